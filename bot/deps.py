"""What listeners get to work with: built once at start-up, shared by every handler."""

from __future__ import annotations

from dataclasses import dataclass

from bot.background import Background
from bot.config import Settings
from bot.i18n import Locales
from bot.metrics import Metrics
from bot.requests.decisions import Decisions
from bot.requests.executor import Executor
from bot.requests.intake import CloneFlow
from bot.requests.nudges import Nudger
from bot.requests.outbox import Outbox
from bot.requests.policy import ApprovalPolicy
from bot.requests.sessions import SessionService
from bot.slack.error_reporting import ErrorReporter
from bot.slack.home import HomeService
from bot.slack.notifier import Notifier
from bot.slack.replays import Deliveries
from bot.store.handle import RedisHandle
from bot.store.requests import RequestStore
from bot.zstack.client import ZStackClient
from bot.zstack.webhooks import WebhookSigner


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
    outbox: Outbox
    nudger: Nudger
