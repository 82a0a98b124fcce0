"""Prometheus metrics, in a registry of our own so several bots can live in one test process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.zstack_calls = Counter(
            "clonebot_zstack_calls_total",
            "ZStack API calls by operation, HTTP status and ZStack error code.",
            ["operation", "status", "code"],
            registry=self.registry,
        )
        self.zstack_latency = Histogram(
            "clonebot_zstack_call_seconds",
            "ZStack API call latency.",
            ["operation"],
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.slack_errors = Counter(
            "clonebot_slack_api_errors_total",
            "Slack Web API calls that failed, by method and error.",
            ["method", "error"],
            registry=self.registry,
        )
        self.logins = Counter(
            "clonebot_zstack_logins_total",
            "ZStack logins from Slack by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.handler_errors = Counter(
            "clonebot_handler_errors_total",
            "Errors that reached the global error handler, by error type.",
            ["error"],
            registry=self.registry,
        )

    def observe_zstack(
        self, operation: str, status: int | None, code: str | None, seconds: float
    ) -> None:
        self.zstack_calls.labels(operation, str(status or "none"), code or "").inc()
        self.zstack_latency.labels(operation).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
