"""Start-up and shut-down: builds every long-lived object once, from settings, in order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import anyio
from aiohttp import web
from prometheus_client import Gauge
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import create_app
from bot.background import Background
from bot.config import Settings
from bot.crypto import aload_secret_box
from bot.deps import Deps
from bot.i18n import Locales
from bot.load import AdaptiveLimit, LoopLag
from bot.logs import secrets
from bot.metrics import Metrics
from bot.requests.approvers import ApproverIdentity
from bot.requests.decisions import Decisions
from bot.requests.executor import Executor
from bot.requests.intake import CloneFlow
from bot.requests.nudges import Nudger
from bot.requests.outbox import Outbox
from bot.requests.policy import ApprovalPolicy
from bot.requests.preflight import Preflight
from bot.requests.rules import rules_from
from bot.requests.sessions import SessionService
from bot.requests.tracker import Tracker
from bot.server import build_web_app
from bot.slack.client import build_web_client
from bot.slack.directory import SlackGroups
from bot.slack.error_reporting import ErrorReporter
from bot.slack.home import HomeService
from bot.slack.notifier import Notifier
from bot.slack.payloads import CheckedSocketModeHandler, response_url_check
from bot.slack.replays import Deliveries
from bot.store.connection import connect_redis
from bot.store.requests import RequestStore
from bot.store.sessions import SessionStore
from bot.store.urls import parse_redis_url
from bot.zstack.client import ZStackClient, default_timeout
from bot.zstack.webhooks import WebhookSigner

logger = logging.getLogger(__name__)


def zstack_client_for(settings: Settings, metrics: Metrics | None = None) -> ZStackClient:
    verify: bool | Path = settings.zstack_ca_bundle or settings.zstack_verify_tls
    return ZStackClient(
        settings.zstack_url,
        timeout=default_timeout(settings.zstack_timeout_s),
        verify=verify,
        observer=metrics.observe_zstack if metrics else None,
    )


async def _import_what_first_use_imports() -> None:
    """Modules imported on first use, imported at start-up instead of in the first burst of
    commands (where they took 3 % of the bot's CPU): anyio's asyncio backend, which httpcore's
    connection pool waits on, and ``_strptime``, which reads ZStack's dates."""
    anyio.Event()
    datetime.strptime("2000", "%Y")


def _follow_lag(lag: LoopLag, limit: AdaptiveLimit, gauge: Gauge) -> None:
    """``limit`` narrows and widens with the loop's lag; ``gauge`` shows it."""

    def observe(lag_s: float) -> None:
        limit.observe(lag_s)
        gauge.set(limit.limit)

    lag.subscribe(observe)


@dataclass
class Runtime:
    """The running bot: dependencies, the Bolt app, and the listeners it serves."""

    deps: Deps
    client: AsyncWebClient
    bolt: AsyncApp
    web_session: aiohttp.ClientSession
    runners: list[web.AppRunner] = field(default_factory=list)
    socket_handler: CheckedSocketModeHandler | None = None
    http_url: str | None = None
    tracker: Tracker | None = None
    lag: LoopLag | None = None

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        await _import_what_first_use_imports()
        for secret in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.session_key,
        ):
            if secret is not None:
                secrets.add(secret.get_secret_value())
        metrics = Metrics()
        if settings.redis_url:
            # A bad REDIS_URL is refused before the session key file or any data is written.
            parse_redis_url(settings.redis_url)
        box = await aload_secret_box(settings)
        redis = await connect_redis(settings)
        try:
            await redis.wait_until_reachable()
        except BaseException:  # refused credentials, or a stop while waiting
            await redis.aclose()
            raise
        zstack = zstack_client_for(settings, metrics)
        web_session = aiohttp.ClientSession()
        client = build_web_client(settings, session=web_session)
        store = SessionStore(redis, box, prefix=settings.key_prefix)
        locales = Locales(default=settings.locale)
        reporter = ErrorReporter(
            zstack.base_url, metrics, locales, response_url_check(settings.slack_api_url)
        )
        requests = RequestStore(
            redis, entered=lambda state: metrics.requests.labels(state.value).inc()
        )
        sessions = SessionService(store=store, zstack=zstack)
        notifier = Notifier(
            client=client, store=requests, settings=settings, metrics=metrics, locales=locales
        )
        webhooks = WebhookSigner(box, settings.public_url)
        executor = Executor(
            settings=settings,
            store=requests,
            sessions=sessions,
            zstack=zstack,
            metrics=metrics,
            webhooks=webhooks,
        )
        preflight = Preflight(store=requests, sessions=sessions, zstack=zstack)
        executor.preflight = preflight
        outbox = Outbox(
            store=requests,
            slack=notifier,
            submit=executor.submit,
            metrics=metrics,
            preflight=preflight.run,
        )
        requests.on_effects = outbox.kick
        policy = ApprovalPolicy(
            settings, groups=SlackGroups(client, metrics), rules=rules_from(settings)
        )
        deps = Deps(
            settings=settings,
            zstack=zstack,
            redis=redis,
            sessions=sessions,
            metrics=metrics,
            reporter=reporter,
            background=Background(reporter),
            requests=requests,
            clone=CloneFlow(
                settings=settings,
                zstack=zstack,
                store=requests,
                sessions=sessions,
                locales=locales,
                policy=policy,
            ),
            notifier=notifier,
            policy=policy,
            executor=executor,
            decisions=Decisions(
                store=requests,
                policy=policy,
                metrics=metrics,
                identity=ApproverIdentity(sessions, zstack),
            ),
            webhooks=webhooks,
            home=HomeService(
                store=requests,
                sessions=sessions,
                policy=policy,
                endpoint=zstack.base_url,
                locales=locales,
            ),
            locales=locales,
            deliveries=Deliveries(redis, metrics),
            outbox=outbox,
            nudger=Nudger(store=requests, policy=policy),
        )
        tracker = Tracker(
            store=requests,
            executor=executor,
            outbox=outbox,
            metrics=metrics,
            nudger=deps.nudger,
        )
        if adopted := await requests.adopt_legacy_schedules():
            logger.info("adopted work of an earlier release", extra={"requests": adopted})
        lag = LoopLag()
        lag.subscribe(metrics.loop_lag.observe)
        for work, limit in (("submissions", executor.submissions), ("slack_bulk", notifier.bulk)):
            _follow_lag(lag, limit, metrics.work_limit.labels(work))
        lag.start()
        tracker.start()
        return cls(
            deps=deps,
            client=client,
            bolt=create_app(deps, client),
            web_session=web_session,
            tracker=tracker,
            lag=lag,
        )

    async def serve_http(self, host: str, port: int) -> int:
        """Serve the HTTP listener; returns the bound port (useful with port 0)."""
        runner = web.AppRunner(build_web_app(self.bolt, self.deps), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self.runners.append(runner)
        bound = runner.addresses[0][1] if runner.addresses else port
        self.http_url = f"http://{host}:{bound}"
        logger.info("listening", extra={"url": f"http://{host}:{bound}"})
        return int(bound)

    async def start_socket_mode(self) -> None:
        token = self.deps.settings.slack_app_token
        if token is None:
            raise ValueError("Socket Mode needs SLACK_APP_TOKEN")
        self.socket_handler = CheckedSocketModeHandler(
            self.bolt,
            app_token=token.get_secret_value(),
            web_client=self.client,
            trusted_response_url=response_url_check(self.deps.settings.slack_api_url),
        )
        await self.socket_handler.connect_async()  # type: ignore[no-untyped-call]
        logger.info("socket mode connected")

    async def aclose(self) -> None:
        if self.tracker is not None:
            await self.tracker.stop()
        # Outside in: no new deliveries, then the work they started (which may start outbox
        # runs), then those runs. Draining the outbox first left runs started after it.
        if self.socket_handler is not None:
            await self.socket_handler.close_async()  # type: ignore[no-untyped-call]
        for runner in self.runners:
            await runner.cleanup()
        await self.deps.background.drain()
        await self.deps.outbox.drain()
        await self.deps.zstack.aclose()
        await self.deps.redis.aclose()
        await self.web_session.close()
        if self.lag is not None:
            await self.lag.stop()
