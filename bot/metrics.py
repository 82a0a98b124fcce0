"""Prometheus metrics, in a registry of our own so several bots can live in one test process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
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
        self.slack_answers = Histogram(
            "clonebot_slack_answer_seconds",
            "From a verified Slack request's arrival at the handler to the bot's answer (Slack "
            "gives up after 3 s).",
            registry=self.registry,
            buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
        )
        self.slack_errors = Counter(
            "clonebot_slack_api_errors_total",
            "Slack Web API calls that failed, by method and error.",
            ["method", "error"],
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "clonebot_event_loop_lag_seconds",
            "How late the event loop woke a timer (sampled every 50 ms): what every await of an "
            "ack, a webhook or a notice waits on top of its own work.",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
        )
        self.work_limit = Gauge(
            "clonebot_work_limit",
            "Bulk work carried out at once (approvals submitted to ZStack; card draws and "
            "completions' thread replies and cards): it narrows while the event loop lags.",
            ["work"],
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

        self.requests = Counter(
            "clonebot_requests_total",
            "Clone request transitions, by the state entered.",
            ["state"],
            registry=self.registry,
        )
        self.approval_latency = Histogram(
            "clonebot_approval_latency_seconds",
            "From request creation to its approval.",
            registry=self.registry,
            buckets=(10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600),
        )
        self.clone_duration = Histogram(
            "clonebot_clone_duration_seconds",
            "From approval to the end of the ZStack job.",
            ["outcome"],
            registry=self.registry,
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600),
        )
        self.jobs_tracked = Gauge(
            "clonebot_jobs_tracked",
            "ZStack jobs waiting in the tracker's schedule.",
            registry=self.registry,
        )
        self.rejected_requests = Counter(
            "clonebot_rejected_slack_requests_total",
            "HTTP requests turned away before Bolt (not signed by Slack, or not a payload).",
            ["status"],
            registry=self.registry,
        )
        self.repeated_deliveries = Counter(
            "clonebot_repeated_slack_deliveries_total",
            "Slack deliveries already acted on (replays, retries), acknowledged and ignored.",
            ["kind"],
            registry=self.registry,
        )
        self.notification_retries = Counter(
            "clonebot_notification_retries_total",
            "Completion notices that had to be retried.",
            registry=self.registry,
        )

    def observe_zstack(
        self, operation: str, status: int | None, code: str | None, seconds: float
    ) -> None:
        self.zstack_calls.labels(operation, str(status or "none"), code or "").inc()
        self.zstack_latency.labels(operation).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
