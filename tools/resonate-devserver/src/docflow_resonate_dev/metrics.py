"""Prometheus metrics, named, labelled and described as the real server's
(resonatehq/resonate v0.9.8, ``src/metrics.rs:27-57``), served on their own port at
``GET /metrics`` (``--observability-metrics-port``, 9090; 0: none).

Counted as there: every request that reached an operation, by kind and status, and its
duration (not an envelope refused before: bad JSON, no kind, wrong version); each message sent,
by kind; each HTTP push, by outcome; each promise a schedule created.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()  # one per server: several may run in one process
        self.requests = Counter("resonate_request_total",
                                "Total number of requests by kind and status",
                                ["kind", "status"], registry=self.registry)  # fmt: skip
        self.durations = Histogram("resonate_request_duration_seconds",
                                   "Request duration in seconds by kind", ["kind"],
                                   registry=self.registry)  # fmt: skip
        self.messages = Counter("resonate_messages_total",
                                "Total number of messages delivered by kind", ["kind"],
                                registry=self.registry)  # fmt: skip
        self.deliveries = Counter("resonate_deliveries_total",
                                  "Total number of message deliveries by status", ["status"],
                                  registry=self.registry)  # fmt: skip
        self.schedule_promises = Counter("resonate_schedule_promises_total",
                                         "Total number of promises created by schedules",
                                         registry=self.registry)  # fmt: skip

    def delivered(self, ok: bool) -> None:
        self.deliveries.labels("success" if ok else "error").inc()

    def app(self) -> web.Application:
        async def scrape(_request: web.Request) -> web.Response:
            # text/plain; version=0.0.4, as the real server's TextEncoder
            return web.Response(body=generate_latest(self.registry),
                                headers={"Content-Type": "text/plain; version=0.0.4"})  # fmt: skip

        app = web.Application()
        app.router.add_get("/metrics", scrape)
        return app
