"""The Redis check: ``connect_redis`` as the bot does it (starting the embedded server when
``REDIS_URL`` is unset), then PING, a write/read/delete of a throwaway key under the key prefix,
and ``INFO server`` for the version. Redis failures arrive as ``StoreUnavailable``."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from bot.check.results import CheckResult, fail, ok
from bot.config import Settings
from bot.errors import ConfigError, StoreUnavailable
from bot.store.connection import connect_redis
from bot.store.errors import store_errors
from bot.store.handle import RedisHandle


def _redis_fix(message: str) -> str:
    if "credentials" in message:
        return "fix the user name / password in REDIS_URL"
    if "read-only" in message:
        return "point REDIS_URL at the master (or use redis+sentinel://…)"
    if "out of memory" in message:
        return "free memory on Redis or raise its maxmemory"
    return (
        "start Redis or fix REDIS_URL (host, port, password, rediss:// for TLS); "
        "unset REDIS_URL to use the embedded Redis (one replica only)"
    )


def _info_field(info: Any, field: str) -> str | None:
    if not isinstance(info, dict):
        return None
    if field in info:
        return str(info[field])
    for value in info.values():  # a cluster answers per node
        found = _info_field(value, field)
        if found is not None:
            return found
    return None


async def _round_trip(handle: RedisHandle) -> str:
    """PING, SET/GET/DEL of a throwaway key under the prefix, INFO server; the version."""
    client = handle.client
    key = f"{handle.prefix}check:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex.encode("ascii")
    with store_errors("PING"):
        await client.ping()
    with store_errors("write/read/delete"):
        await client.set(key, value, ex=60)  # expires by itself should DEL never run
        read = await client.get(key)
        deleted = await client.delete(key)
    if read != value or deleted != 1:
        raise StoreUnavailable(f"write/read/delete: {key} did not read back what was written")
    with store_errors("INFO server"):
        info = await client.info("server")
    version = _info_field(info, "redis_version") or "unknown"
    mode = _info_field(info, "redis_mode")
    return f"Redis {version}" + (f" ({mode})" if mode else "")


async def check_redis(settings: Settings, timeout_s: float) -> list[CheckResult]:
    """``connect_redis`` (starts the embedded server when REDIS_URL is unset) and a round trip."""
    try:
        handle = await connect_redis(settings)
    except ConfigError as exc:
        return [fail("redis", "; ".join(exc.problems), "fix REDIS_URL (see .env.example)")]
    except StoreUnavailable as exc:
        return [fail("redis", str(exc), "make CLONEBOT_DATA_DIR writable, or set REDIS_URL")]
    if handle.embedded is not None:
        where = f"embedded Redis, data in {handle.embedded.data_dir} (one replica only)"
    else:
        where = f"{handle.description} ({handle.kind})"
    try:
        async with asyncio.timeout(timeout_s):
            version = await _round_trip(handle)
    except StoreUnavailable as exc:
        return [fail("redis", f"{where}: {exc}", _redis_fix(str(exc)))]
    except TimeoutError:
        return [fail("redis", f"{where}: no answer within {timeout_s:g} s", _redis_fix(""))]
    finally:
        await handle.aclose()
    return [ok("redis", f"{where}: PING, write/read/delete under {handle.prefix!r} OK; {version}")]
