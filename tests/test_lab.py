"""Opening a committed notebook in JupyterLab leaves it as it was: a real server, a real browser.

``workbench lab`` serves a temporary copy of the project; headless Chromium opens every notebook,
waits until its kernel is idle and has reported itself, then reads the tab's dirty mark and the
file's bytes. Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers.browser import headless_chromium

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STARTUP_SECONDS = 90  # the server and six kernels on two busy cores
SETTLE_SECONDS = 2.0  # after the kernels report, for any late metadata write to show

# Opens every notebook as a double-click would, waits for each kernel to be idle and to have
# answered kernel_info (JupyterLab copies its kernelspec and language_info into the notebook
# then), and reports what JupyterLab holds for each one.
OPEN_ALL = """
const [paths, done] = [arguments[0], arguments[arguments.length - 1]];
const app = window.jupyterapp;
(async () => {
  const panels = await Promise.all(paths.map(path =>
    app.commands.execute('docmanager:open', {path, factory: 'Notebook'})));
  await Promise.all(panels.map(async panel => {
    await panel.context.ready;
    await panel.sessionContext.ready;
    const kernel = panel.sessionContext.session.kernel;
    await Promise.all([kernel.info, kernel.spec]);
    while (kernel.status !== 'idle') await new Promise(wake => setTimeout(wake, 100));
  }));
  done(null);
})().catch(error => done(String(error)));
"""
STATE = """
const app = window.jupyterapp;
return Array.from(app.shell.widgets('main')).filter(w => w.context).map(w => {
  const tab = document.querySelector(`li.lm-TabBar-tab[data-id="${w.id}"]`);
  return {
    path: w.context.path,
    kernel: w.sessionContext.session?.kernel?.status ?? null,
    model_dirty: w.context.model.dirty,
    tab_dirty: tab === null ? null : tab.classList.contains('jp-mod-dirty'),
    metadata: w.context.model.toJSON().metadata,
  };
});
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_url(log: Path, server: subprocess.Popen, deadline: float) -> str:
    """The URL ``workbench lab`` prints, once the server behind it answers with its token."""
    url = None
    while time.monotonic() < deadline and server.poll() is None:
        printed = re.search(r"http://127\.0\.0\.1:\d+/lab\?token=\w+", log.read_text())
        url = printed.group(0) if printed else None
        try:
            if url and urllib.request.urlopen(url.replace("/lab?", "/api/status?")).status == 200:
                return url
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer at {url}:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    """Ctrl-C, as a terminal sends it to the whole group; then a kill if it lingers."""
    os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``workbench lab`` on a free loopback port, serving a copy of notebooks/; yields
    ``(url, project_root)``. Jupyter's settings, workspaces and runtime files are temporary
    too, and its page exposes ``window.jupyterapp`` for the test to read."""
    project = tmp_path_factory.mktemp("lab-project")
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    jupyter = tmp_path_factory.mktemp("jupyter")
    (jupyter / "config").mkdir()
    (jupyter / "config" / "jupyter_lab_config.json").write_text(
        '{"LabApp": {"expose_app_in_browser": true}}'
    )
    env = dict(
        os.environ,
        WORKBENCH_HOME=str(project),
        JUPYTER_CONFIG_DIR=str(jupyter / "config"),
        JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
    )
    log = project / "lab.log"
    command = [sys.executable, "-m", "workbench.cli", "lab", "--port", str(free_port())]
    with log.open("w") as output:
        server = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield wait_for_url(log, server, time.monotonic() + STARTUP_SECONDS), project
    finally:
        stop(server)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian Chromium through its own chromedriver (no Selenium Manager)."""
    driver = headless_chromium(tmp_path_factory.mktemp("chromium"))
    driver.set_script_timeout(STARTUP_SECONDS)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def opened(browser, lab):
    """What JupyterLab holds for each notebook once all are open and their kernels idle,
    with each file's bytes before and after; keyed by file name."""
    url, project = lab
    before = {path.name: path.read_bytes() for path in (project / "notebooks").glob("*.ipynb")}
    browser.get(url)
    deadline = time.monotonic() + STARTUP_SECONDS
    while not browser.execute_script("return Boolean(window.jupyterapp?.shell?.isAttached)"):
        assert time.monotonic() < deadline, "JupyterLab's page did not start"
        time.sleep(0.25)
    paths = [f"notebooks/{path.name}" for path in NOTEBOOKS]
    error = browser.execute_async_script(OPEN_ALL, paths)
    assert error is None, error
    time.sleep(SETTLE_SECONDS)
    states = {Path(state["path"]).name: state for state in browser.execute_script(STATE)}
    for name, state in states.items():
        state["before"] = before[name]
        state["after"] = (project / "notebooks" / name).read_bytes()
    return states


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_opening_a_notebook_leaves_it_unmodified(opened, path):
    state = opened[path.name]
    assert state["kernel"] == "idle"
    language = state["metadata"].get("language_info", {})
    assert not state["model_dirty"] and state["tab_dirty"] is False, (
        f"JupyterLab marks {path.name} modified on open; it now holds {state['metadata']} "
        f"(this kernel runs Python {language.get('version')}: the committed metadata must match "
        "what JupyterLab copies from the python3 kernel)"
    )
    assert state["after"] == state["before"], "opening wrote to the file"
