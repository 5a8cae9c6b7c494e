"""The demo page in a real headless Chromium: server-rendered slots, then a client-side call to
``/rank`` that replaces them without a reload. Needs Debian's ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them); skips naming them otherwise."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn
from helpers.browser import headless_chromium

from workbench.serving import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def browser(tmp_path):
    driver = headless_chromium(tmp_path / "chromium")
    yield driver
    driver.quit()


@pytest.fixture
def served(service_factory):
    """The app under a real uvicorn on a free loopback port, in a thread."""
    from conftest import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service_factory(), None), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_demo_slots_are_rendered_then_replaced_without_reload(browser, served, project):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served}/demo?user_id={project.consenting[6]}&slots=3")
    slots = browser.find_elements(By.CSS_SELECTOR, ".slot")
    first = [slot.get_attribute("data-item-id") for slot in slots]
    first_event = browser.find_element(By.ID, "slots").get_attribute("data-event-id")
    assert len(first) == 3 and all(first) and len(first_event) == 32
    browser.execute_script("window.sameDocument = 'yes';")  # gone if the page reloads
    browser.find_element(By.ID, "refresh").click()
    WebDriverWait(browser, 20).until(
        lambda b: b.find_element(By.ID, "slots").get_attribute("data-event-id") != first_event
    )
    second = [
        s.get_attribute("data-item-id") for s in browser.find_elements(By.CSS_SELECTOR, ".slot")
    ]
    assert len(second) == 3 and not set(first) & set(second)  # the script excluded what was shown
    assert browser.execute_script("return window.sameDocument;") == "yes"
    assert browser.find_element(By.ID, "event").text != first_event
