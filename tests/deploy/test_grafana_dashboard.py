"""deploy/grafana/clone-bot-dashboard.json: an importable dashboard whose queries use the bot's
metric names only, and one panel (at least) for each of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.metrics import Metrics
from tests.deploy.support import DEPLOY, load_json

DASHBOARD = DEPLOY / "grafana" / "clone-bot-dashboard.json"

# The bot's metrics (the code follows these names) → kind.
METRICS = {
    "clonebot_requests_total": "counter",
    "clonebot_approval_latency_seconds": "histogram",
    "clonebot_clone_duration_seconds": "histogram",
    "clonebot_zstack_calls_total": "counter",
    "clonebot_zstack_call_seconds": "histogram",
    "clonebot_slack_api_errors_total": "counter",
    "clonebot_slack_answer_seconds": "histogram",
    "clonebot_jobs_tracked": "gauge",
    "clonebot_notification_retries_total": "counter",
    "clonebot_event_loop_lag_seconds": "histogram",
    "clonebot_work_limit": "gauge",
}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
METRIC_NAME = re.compile(r"\b(clonebot_[a-z0-9_]+)\b")
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "without", "le"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load_json(DASHBOARD)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _series(name: str) -> tuple[str, str]:
    """(metric, series suffix) for a name used in a query."""
    for suffix in HISTOGRAM_SERIES:
        base = name.removesuffix(suffix)
        if base != name and METRICS.get(base) == "histogram":
            return base, suffix
    return name, ""


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", [])]


def test_importable_shape(dashboard: dict[str, Any]) -> None:
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["title"] and dashboard["uid"]
    (ds_input,) = dashboard["__inputs"]
    assert ds_input == {**ds_input, "name": "DS_PROMETHEUS", "type": "datasource"}
    assert ds_input["pluginId"] == "prometheus"


def test_panel_ids_are_unique_and_layout_is_sane(dashboard: dict[str, Any]) -> None:
    panels = list(_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["h"] >= 1


def test_every_data_panel_queries_prometheus_through_the_input(dashboard: dict[str, Any]) -> None:
    for panel in _panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
            assert METRIC_NAME.search(target["expr"]), f"{panel['title']}: no clonebot metric"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_queries_use_only_the_bot_metrics_and_use_them_all(dashboard: dict[str, Any]) -> None:
    used: set[str] = set()
    for expr in _exprs(dashboard):
        assert expr.count("(") == expr.count(")"), expr
        assert expr.count("{") == expr.count("}"), expr
        for name in METRIC_NAME.findall(expr):
            base, suffix = _series(name)
            assert base in METRICS, f"unknown metric {name} in {expr}"
            if METRICS[base] == "histogram":
                assert suffix, f"{name}: a histogram is queried through _bucket/_sum/_count"
            used.add(base)
    assert used == set(METRICS)


def test_histograms_are_read_as_quantiles(dashboard: dict[str, Any]) -> None:
    for name, kind in METRICS.items():
        if kind != "histogram":
            continue
        exprs = [e for e in _exprs(dashboard) if f"{name}_bucket" in e]
        assert exprs, f"{name}: no quantile panel"
        for expr in exprs:
            assert "histogram_quantile(" in expr and re.search(r"\bby \([^)]*\ble\b", expr)


def test_counters_are_rated(dashboard: dict[str, Any]) -> None:
    for expr in _exprs(dashboard):
        for name in METRIC_NAME.findall(expr):
            base, _ = _series(name)
            if METRICS[base] != "gauge":
                assert re.search(rf"(rate|increase)\(\s*{name}\b", expr), expr


def test_grouping_labels_exist_on_the_metrics_the_code_defines(dashboard: dict[str, Any]) -> None:
    """For the metrics bot/metrics.py already registers, `by (...)` names only their labels."""
    labels: dict[str, set[str]] = {}
    metrics = Metrics()
    for value in vars(metrics).values():
        name = getattr(value, "_name", None)
        if isinstance(name, str) and name.startswith("clonebot_"):
            kind = getattr(value, "_type", "")
            full = f"{name}_total" if kind == "counter" else name
            labels[full] = set(getattr(value, "_labelnames", ()))
    assert "clonebot_zstack_calls_total" in labels  # the introspection still works
    for expr in _exprs(dashboard):
        names = {_series(n)[0] for n in METRIC_NAME.findall(expr)}
        grouped = {
            label.strip()
            for group in re.findall(r"\bby \(([^)]*)\)", expr)
            for label in group.split(",")
        } - {"le", "instance", "job"}
        for name in names & set(labels):
            assert grouped <= labels[name], f"{expr}: {grouped - labels[name]} not on {name}"
