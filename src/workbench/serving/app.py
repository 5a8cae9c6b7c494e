"""The HTTP service (FastAPI): ``POST /rank``, ``POST /events/{event_id}/reward``, ``GET
/health``, ``GET /metrics`` (Prometheus) and ``GET /demo`` (a page with personalized slots).

Bad requests get a 4xx JSON answer naming the field and the value: 422 for a body that is not
JSON or breaks the schema, 404 for an unknown event, 409 for a second, different reward.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from workbench.serving.decision_log import RewardConflict
from workbench.serving.schemas import RankRequest, RankResponse, RewardRequest, RewardResponse
from workbench.serving.service import BadRequest, DecisionService

log = logging.getLogger(__name__)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "workbench_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "workbench_request_seconds",
            "Request latency",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "workbench_decisions", "Decisions by variant", ["variant"], registry=self.registry
        )
        self.fallbacks = Counter(
            "workbench_fallbacks",
            "Decisions answered by the popularity fallback",
            registry=self.registry,
        )
        self.rewards = Counter(
            "workbench_rewards", "Rewards logged by variant", ["variant"], registry=self.registry
        )
        self.rollbacks = Counter(
            "workbench_rollbacks", "Challengers rolled back by the guard", registry=self.registry
        )

    def __call__(self, event: str, **fields) -> None:
        if event == "decision":
            self.decisions.labels(fields["variant"]).inc()
            if fields["fallback"]:
                self.fallbacks.inc()
        elif event == "reward":
            self.rewards.labels(fields["variant"]).inc()
        elif event == "rollback":
            self.rollbacks.inc()


def _refresher(service: DecisionService, seconds: float, stop: threading.Event) -> None:
    while not stop.wait(seconds):
        try:
            service.refresh()
        except Exception:  # keep serving with what is loaded
            log.exception("refresh failed; the loaded models and flags stay in force")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_app(service: DecisionService, refresh_seconds: float | None = 2.0) -> FastAPI:
    """The FastAPI app around ``service``; ``refresh_seconds=None`` turns live reloads off."""
    metrics = Metrics()
    service.listeners.append(metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        if refresh_seconds:
            threading.Thread(
                target=_refresher, args=(service, refresh_seconds, stop), daemon=True
            ).start()
        yield
        stop.set()
        service.log.close()

    app = FastAPI(title="workbench personalizer", lifespan=lifespan)
    app.state.service, app.state.metrics = service, metrics

    @app.middleware("http")
    async def measure(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        endpoint = request.scope.get("route").path if request.scope.get("route") else "other"
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            + ("" if e["type"] == "json_invalid" else f" (got {str(e.get('input'))[:80]!r})")
            for e in error.errors()
        ]
        return _error(422, "; ".join(problems))

    @app.post("/rank", response_model=RankResponse)
    def rank(request: RankRequest):
        try:
            return service.rank(request)
        except BadRequest as error:
            return _error(422, str(error))

    @app.post("/events/{event_id}/reward", response_model=RewardResponse)
    def reward(event_id: str, body: RewardRequest):
        try:
            created = service.reward(event_id, body.reward)
        except KeyError:
            return _error(404, f"unknown event_id {event_id!r}")
        except RewardConflict as error:
            return _error(409, str(error))
        return RewardResponse(event_id=event_id, reward=body.reward, recorded=created)

    @app.get("/health")
    def health():
        return {
            "status": "ok",
            "models": service.models.versions(),
            "flags": service.flags.model_dump(mode="json"),
            "rolled_back": sorted(service.guard.rolled_back),
        }

    @app.get("/metrics")
    def prometheus():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/demo", response_class=HTMLResponse)
    def demo(request: Request, user_id: str = "demo-user", slots: int = 3):
        if not 1 <= slots <= 10:
            return _error(422, f"slots must be from 1 to 10, got {slots}")
        decision = service.rank(
            RankRequest(user_id=user_id, k=max(slots, 1), context={"page": "demo"})
        )
        return TEMPLATES.TemplateResponse(
            request,
            "demo.html",
            {"decision": decision, "slots": decision.ranking[:slots], "user_id": user_id},
        )

    return app
