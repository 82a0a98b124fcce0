"""What listeners get to work with: built once at start-up, shared by every handler."""

from __future__ import annotations

from dataclasses import dataclass

from bot.approval import ApprovalPolicy
from bot.background import Background
from bot.clone_flow import CloneFlow
from bot.config import Settings
from bot.decisions import Decisions
from bot.error_reporting import ErrorReporter
from bot.executor import Executor
from bot.home import HomeService
from bot.i18n import Locales
from bot.idempotency import Deliveries
from bot.metrics import Metrics
from bot.notifier import Notifier
from bot.redis_client import RedisHandle
from bot.request_store import RequestStore
from bot.sessions import SessionService
from bot.webhooks import WebhookSigner
from bot.zstack import ZStackClient


@dataclass
class Deps:
    settings: Settings
    zstack: ZStackClient
    redis: RedisHandle
    sessions: SessionService
    metrics: Metrics
    reporter: ErrorReporter
    background: Background
    requests: RequestStore
    clone: CloneFlow
    notifier: Notifier
    policy: ApprovalPolicy
    executor: Executor
    decisions: Decisions
    webhooks: WebhookSigner
    home: HomeService
    locales: Locales
    deliveries: Deliveries
