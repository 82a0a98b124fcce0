"""The Redis error boundary: redis-py exceptions never leave ``bot/``.

Stores wrap their commands in ``store_errors(operation)`` (or decorate a coroutine with
``guarded(operation)``), which turns every redis-py exception into ``StoreUnavailable`` with a
short message that says what happened (loading, refused credentials, unreachable, read-only, out
of memory) and keeps the redis-py exception as its cause.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from functools import wraps
from typing import ParamSpec, TypeVar

import redis.exceptions as redis_exceptions

from bot.errors import StoreUnavailable

# Every exception redis-py defines derives from one of these (checked by a test).
REDIS_EXCEPTIONS: tuple[type[Exception], ...] = (
    redis_exceptions.RedisError,
    redis_exceptions.RedisClusterException,
    redis_exceptions.ChildDeadlockedError,
    redis_exceptions.IncorrectPolicyType,
)

_UNREACHABLE = (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError, OSError)


def _describe_redis_error(operation: str, exc: BaseException) -> str:
    if isinstance(exc, redis_exceptions.BusyLoadingError):
        return f"{operation}: Redis is loading its data"
    if isinstance(exc, redis_exceptions.AuthenticationError | redis_exceptions.AuthorizationError):
        return f"{operation}: Redis refused our credentials"
    if isinstance(exc, redis_exceptions.TimeoutError):
        return f"{operation}: Redis did not answer in time"
    if isinstance(exc, _UNREACHABLE):
        return f"{operation}: Redis cannot be reached"
    if isinstance(exc, redis_exceptions.ReadOnlyError):
        return f"{operation}: Redis is read-only (a replica?)"
    if isinstance(exc, redis_exceptions.OutOfMemoryError):
        return f"{operation}: Redis is out of memory"
    # Redis error replies carry no secrets (keys hold no identities); keep the first line short.
    text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return f"{operation}: Redis error: {text}"


@contextlib.contextmanager
def store_errors(operation: str) -> Iterator[None]:
    """Turn any redis-py exception raised inside into ``StoreUnavailable`` (cause kept).

    ``operation`` names what was attempted (``session.get``); it appears in the message.
    """
    try:
        yield
    except REDIS_EXCEPTIONS as exc:
        raise StoreUnavailable(_describe_redis_error(operation, exc)) from exc


P = ParamSpec("P")
R = TypeVar("R")


def guarded(operation: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorator form of ``store_errors`` for coroutine functions."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with store_errors(operation):
                return await func(*args, **kwargs)

        return wrapper

    return decorate
