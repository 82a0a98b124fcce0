"""A Slack emulator for end-to-end tests and the sandbox (DESIGN §7).

It serves the Web API subset the bot calls, keeps the workspace (people, channels, threads, DMs,
modals), validates Block Kit as Slack does, signs the payloads it sends to the app, and acts as a
user through :class:`SlackEmulator`'s Python API or the ``/_emu/`` HTTP control API.

Modules: ``server`` (the emulator), ``app`` (Slack's HTTP routes), ``webapi`` (methods),
``modals`` (view stacks), ``response_url``, ``actor`` (payloads and acks), ``elements``
(interactive element state), ``validation`` (Block Kit), ``transport`` (delivery seam; HTTP),
``socket_mode`` (Socket Mode: ``apps.connections.open``, the WebSocket, HTTP/socket switch),
``signing``, ``state``/``records`` (memory), ``workspace`` (people and channels), ``control``,
``page`` (the web page at ``/`` and its state projection), ``page_labels`` (the page's words in
each language, from the bot's catalog), ``welcome`` (the page's welcome panel), ``events`` (SSE
for the page), ``zstack_proxy`` (the page's ZStack panel), ``clock``.
"""

from .actor import InputRejected, UserActionError
from .clock import Clock, ManualClock, SystemClock
from .ratelimits import RateLimits
from .records import (
    ApiCall,
    CommandRecord,
    Delivery,
    Fault,
    Message,
    OpenView,
    ValidationFailure,
)
from .server import SlackEmulator
from .socket_mode import Mode, ModeTransport, SocketConnection, SocketModeTransport
from .state import EmulatorState
from .transport import AppResponse, HttpTransport, Transport
from .welcome import Login, Person, Welcome
from .workspace import Channel, User, UserGroup, Workspace, default_workspace

__all__ = [
    "ApiCall",
    "AppResponse",
    "Channel",
    "Clock",
    "CommandRecord",
    "Delivery",
    "EmulatorState",
    "Fault",
    "HttpTransport",
    "InputRejected",
    "Login",
    "ManualClock",
    "Message",
    "Mode",
    "ModeTransport",
    "OpenView",
    "Person",
    "RateLimits",
    "SlackEmulator",
    "SocketConnection",
    "SocketModeTransport",
    "SystemClock",
    "Transport",
    "User",
    "UserActionError",
    "UserGroup",
    "ValidationFailure",
    "Welcome",
    "Workspace",
    "default_workspace",
]
