"""The sans-I/O core shared by the synchronous (threads) and the asyncio clients.

Nothing here reads or writes a socket, starts a thread or awaits: it builds requests and their ids, decodes
frames, matches answers to the calls in flight by id and turns error objects into :class:`CredsdError`, decides
what a call may do after a try that failed (resend once, or not), paces reconnects, and reads a watch's stream
(events, ``resync``, heartbeats, the close, the overflow of its buffer). ``_transport`` and ``client`` drive it
with sockets and threads, ``aio`` with asyncio streams.
"""

import itertools
import json
import logging
import os
import random
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from .errors import (
    CLOSED,
    DISCONNECTED,
    FRAME_TOO_LARGE,
    INVALID_PARAMS,
    PROTOCOL_ERROR,
    TIMEOUT,
    UNAVAILABLE,
    CredsdConnectionError,
    CredsdError,
    CredsdTimeout,
    error_from_answer,
)

log = logging.getLogger("credsd")
log.addHandler(logging.NullHandler())

DEFAULT_RESOLVE_SOCKET = "/run/credsd/resolve.sock"
DEFAULT_ADMIN_SOCKET = "/run/credsd/admin.sock"
RESOLVE_SOCKET_ENV = "CREDSD_RESOLVE_SOCKET"
ADMIN_SOCKET_ENV = "CREDSD_ADMIN_SOCKET"
#: The largest request frame credsd reads on the resolve socket.
RESOLVE_MAX_FRAME_BYTES = 65536
#: The admin socket's default limit (``limits.maxFrameBytes``).
ADMIN_MAX_FRAME_BYTES = 1048576
#: The largest answer (or notification) frame the client reads by default: a frame announcing more is a
#: ``protocol_error`` and closes the connection, rather than a read of up to 4 GiB.
DEFAULT_MAX_ANSWER_BYTES = 64 << 20

DEFAULT_TIMEOUT = 10.0
#: credsd sends a heartbeat every 30 s on a watching connection; this long without any frame means it is dead.
WATCH_IDLE_TIMEOUT = 75.0
#: The most events (and heartbeats) a watch holds unread: one more ends it as ``"overflow"``.
WATCH_MAX_QUEUED = 10000

#: Params whose values are secrets: scrubbed out of any error text (credsd never echoes them anyway).
SECRET_PARAMS = ("grant", "credentialPayload", "code", "state")

#: Methods that change nothing and count nothing, so a call cut off by a closing connection can be sent again.
#: Not ``resolve``: it counts against budgets (``maxResolves``, ``perMinute``) and in ``usage.get``, so a resend
#: of one credsd had already carried out would count twice.
SAFE_TO_REPEAT = frozenset(
    {
        "health", "providers.list", "connections.get", "connections.list", "policy.get", "budgets.get",
        "usage.get", "members.list", "explain", "keys.status", "audit.list", "audit.verify", "events.list", "stats",
    }
)

#: How a connection's reader says the daemon closed the stream.
CLOSED_BY_DAEMON = "the daemon closed the connection"


def socket_path(argument: Optional[str], env: str, default: str) -> str:
    """The socket path: the argument, else the environment variable, else the default."""
    if argument:
        return os.fspath(argument)
    return os.environ.get(env) or default


def secrets_of(params: Optional[Mapping[str, Any]]) -> Tuple[str, ...]:
    """The secret strings a request carries (see :data:`SECRET_PARAMS`)."""
    found: List[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            if len(value) >= 4:
                found.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    for name in SECRET_PARAMS:
        if params and name in params:
            collect(params[name])
    return tuple(found)


# -- frames ----------------------------------------------------------------------------------------------------


class Request:
    """A request made ready to send: params encoded once (so a param that cannot be sent fails before any
    connection is made), the id filled in per attempt."""

    __slots__ = ("method", "secrets", "_head", "_tail", "_max_frame_bytes")

    def __init__(self, method: str, params: Optional[Mapping[str, Any]], max_frame_bytes: Optional[int]) -> None:
        self.method = method
        self.secrets = secrets_of(params)
        self._max_frame_bytes = max_frame_bytes
        try:
            encoded_method = json.dumps(method, ensure_ascii=False)
            encoded_params = json.dumps(params if params is not None else {}, ensure_ascii=False, allow_nan=False,
                                        separators=(",", ":"))
            self._head = b'{"jsonrpc":"2.0","id":'
            self._tail = (',"method":' + encoded_method + ',"params":' + encoded_params + "}").encode("utf-8")
        except UnicodeEncodeError:
            raise CredsdError(INVALID_PARAMS, "a param holds text that is not valid Unicode (a lone surrogate)",
                              method=method) from None
        except (TypeError, ValueError) as error:
            raise CredsdError(INVALID_PARAMS, f"params cannot be sent as JSON ({type(error).__name__})",
                              method=method) from None
        self.frame(1)  # the size check, before anything is sent

    def frame(self, request_id: int) -> bytes:
        body = self._head + str(int(request_id)).encode("ascii") + self._tail
        limit = self._max_frame_bytes
        if limit is not None and len(body) > limit:
            raise CredsdError(FRAME_TOO_LARGE, f"the request is {len(body)} bytes, over the socket's limit of "
                              f"{limit}; nothing was sent", data={"announced": len(body), "limit": limit},
                              method=self.method)
        return len(body).to_bytes(4, "big") + body


def encode_frame(request_id: int, method: str, params: Optional[Mapping[str, Any]],
                 max_frame_bytes: Optional[int]) -> bytes:
    """One request frame. Raises :class:`CredsdError` locally for params that cannot be sent."""
    return Request(method, params, max_frame_bytes).frame(request_id)


def check_answer_size(length: int, limit: Optional[int]) -> None:
    """Raises ``protocol_error`` for a frame announcing more than ``limit`` bytes (``None``: no limit)."""
    if limit is not None and length > limit:
        raise CredsdConnectionError(PROTOCOL_ERROR, f"the daemon announced a frame of {length} bytes, over the "
                                    f"client's limit of {limit} (max_answer_bytes)")


class FrameReader:
    """Splits a byte stream into frames, however it is cut. A frame announcing more than ``max_frame_bytes``
    raises :class:`CredsdConnectionError` (``protocol_error``) as soon as its length is read."""

    def __init__(self, max_frame_bytes: Optional[int] = None) -> None:
        self._buffer = bytearray()
        self._max_frame_bytes = max_frame_bytes

    def feed(self, data: bytes) -> List[bytes]:
        buffer = self._buffer
        buffer += data
        frames = []
        position = 0
        while len(buffer) - position >= 4:
            length = int.from_bytes(buffer[position:position + 4], "big")
            check_answer_size(length, self._max_frame_bytes)
            if len(buffer) - position - 4 < length:
                break
            frames.append(bytes(buffer[position + 4:position + 4 + length]))
            position += 4 + length
        if position:
            del buffer[:position]
        return frames


def decode_message(frame: bytes) -> Dict[str, Any]:
    """A frame's JSON object; anything else is a ``protocol_error`` (the connection closes)."""
    try:
        message = json.loads(frame)
    except ValueError:
        raise CredsdConnectionError(PROTOCOL_ERROR, "the daemon sent a frame that is not JSON") from None
    if not isinstance(message, dict):
        raise CredsdConnectionError(PROTOCOL_ERROR, "the daemon sent a frame that is not a JSON object")
    return message


# -- calls on one connection -----------------------------------------------------------------------------------

#: A notification (``event``, ``heartbeat``, ``resync`` of ``watch``), or ``None`` once the connection closed.
Notification = Optional[Dict[str, Any]]
#: A call in flight: its future (of either kind), its method, the secrets to scrub from its error.
PendingCall = Tuple[Any, str, Tuple[str, ...]]


class CallTable:
    """The calls in flight on one connection, by id, and what the frames and the end of the connection mean
    for them. A connection class mixes it in and provides ``_take`` (a pending call by id, removed, under
    whatever lock it needs) and ``_settle`` (answers a future of its kind, once)."""

    path: str

    def _init_calls(self, path: str, on_notification: Optional[Callable[[Notification], None]]) -> None:
        self.path = path
        self._on_notification = on_notification
        self._pending: Dict[int, PendingCall] = {}
        self._ids = itertools.count(1)
        self._connection_error: Optional[Dict[str, Any]] = None
        self._failure_reason = DISCONNECTED

    def _take(self, request_id: int) -> Optional[PendingCall]:
        raise NotImplementedError

    def _settle(self, future: Any, result: Any = None, error: Optional[BaseException] = None) -> None:
        raise NotImplementedError

    def _connection_refused(self, error: Dict[str, Any]) -> None:
        """Credsd sent an error about the connection (id ``null``); it closes the connection next."""

    @property
    def connection_error(self) -> Optional[CredsdError]:
        """The error credsd sent about this connection (id ``null``) before closing it, if any."""
        return error_from_answer(self._connection_error) if self._connection_error is not None else None

    def _dispatch(self, frame: bytes) -> None:
        """One frame from the daemon: a notification, an error about the connection, or a call's answer."""
        message = decode_message(frame)
        if "id" not in message and isinstance(message.get("method"), str):
            if self._on_notification is not None:
                self._on_notification(message)
            return
        request_id = message.get("id")
        if request_id is None:
            # About the connection, not a call: frame_too_large, forbidden and overloaded close it next.
            if isinstance(message.get("error"), dict):
                self._connection_error = message["error"]
                self._connection_refused(message["error"])
            return
        # type() and not isinstance(): true and false are ints to Python, not ids to JSON-RPC
        entry = self._take(request_id) if type(request_id) is int else None
        if entry is None:
            return  # timed out or abandoned: dropped
        future, method, secrets = entry
        if "error" in message:
            self._settle(future, error=error_from_answer(message["error"], method, secrets))
        elif "result" in message:
            self._settle(future, result=message["result"])
        else:
            self._settle(future, error=CredsdConnectionError(PROTOCOL_ERROR, "an answer without result or error",
                                                             method=method))

    def _reading_failed(self, error: BaseException) -> str:
        """Why the reader stopped, for an exception out of reading or dispatching (called in its handler)."""
        if isinstance(error, CredsdConnectionError):
            self._failure_reason = error.reason
            return error.message
        if isinstance(error, OSError):
            return f"the connection failed ({getattr(error, 'strerror', None) or type(error).__name__})"
        # a bug in a notification handler must not leave calls hanging
        log.exception("credsd: reader stopped")
        return f"the connection's reader stopped ({type(error).__name__})"

    def _fail_calls(self, entries: Iterable[PendingCall], failure: Optional[str], closing_by_us: bool) -> None:
        """Fails the calls still in flight as the connection ends."""
        for future, method, secrets in entries:
            if self._connection_error is not None:
                error: CredsdError = error_from_answer(self._connection_error, method, secrets)
            elif closing_by_us:
                error = CredsdConnectionError(CLOSED, "the client was closed", method=method)
            else:
                error = CredsdConnectionError(self._failure_reason, (failure or "the connection closed") +
                                              " before the answer came", method=method)
            self._settle(future, error=error)
        if not closing_by_us:
            log.info("credsd: connection to %s closed (%s)", self.path, failure or "closed")


# -- one call, over tries --------------------------------------------------------------------------------------


def call_timeout(method: Optional[str]) -> CredsdTimeout:
    return CredsdTimeout(TIMEOUT, "no answer within the call's timeout", method=method)


class Attempt:
    """One call through a pool, over as many tries as its deadline allows: its request (encoded once), its
    deadline, and what may follow a try that failed."""

    __slots__ = ("method", "request", "deadline", "_repeated")

    def __init__(self, method: str, params: Optional[Mapping[str, Any]], max_frame_bytes: Optional[int],
                 timeout: float) -> None:
        self.method = method
        self.deadline = time.monotonic() + timeout
        self.request = Request(method, params, max_frame_bytes)
        self._repeated = False

    def remaining(self) -> float:
        """Seconds to the deadline (negative past it)."""
        return self.deadline - time.monotonic()

    def not_sent(self, refusal: Optional[CredsdError] = None) -> None:
        """A try that wrote nothing (the call was not carried out): raises what credsd said about the connection
        before closing it (``overloaded``, ``forbidden``), or a timeout past the deadline; else returns, and the
        call is tried again."""
        if refusal is not None:
            refusal.method = self.method
            raise refusal from None
        if time.monotonic() >= self.deadline:
            raise CredsdTimeout(TIMEOUT, "no connection could carry the call in time", method=self.method) from None

    def may_resend(self, error: CredsdConnectionError) -> bool:
        """A try cut off by a closing connection: credsd may have carried it out. Only a method that changes and
        counts nothing (:data:`SAFE_TO_REPEAT`: never a write, never ``resolve``) is sent again, once."""
        if (error.reason == DISCONNECTED and not self._repeated and self.method in SAFE_TO_REPEAT
                and time.monotonic() < self.deadline):
            self._repeated = True
            return True
        return False


# -- connecting ------------------------------------------------------------------------------------------------


class Backoff:
    """Reconnect delays: ``initial`` doubling to ``maximum``, with ±20 % jitter."""

    def __init__(self, initial: float = 0.02, maximum: float = 1.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0
        self.next_attempt = 0.0

    def failed(self) -> None:
        self.failures += 1
        delay = min(self.maximum, self.initial * (2 ** min(self.failures - 1, 30)))
        self.next_attempt = time.monotonic() + delay * random.uniform(0.8, 1.2)

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt = 0.0


def client_closed(method: Optional[str]) -> CredsdConnectionError:
    return CredsdConnectionError(CLOSED, "the client was closed", method=method)


class Connecting:
    """The tries to make one slot's connection before a deadline, paced by the slot's :class:`Backoff`.
    ``verbose``: log the first failure and the reconnect (the synchronous pool does)."""

    __slots__ = ("path", "backoff", "deadline", "method", "verbose", "last_error")

    def __init__(self, path: str, backoff: Backoff, deadline: float, method: Optional[str],
                 verbose: bool = False) -> None:
        self.path = path
        self.backoff = backoff
        self.deadline = deadline
        self.method = method
        self.verbose = verbose
        self.last_error = "not tried"

    def delay(self) -> float:
        """Seconds to wait before the next try (0: at once); ``unavailable`` when the backoff reaches past the
        deadline."""
        now = time.monotonic()
        next_attempt = self.backoff.next_attempt
        if next_attempt <= now:
            return 0.0
        if next_attempt >= self.deadline:
            raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {self.path} ({self.last_error}); "
                                        "retrying with backoff", method=self.method)
        return next_attempt - now

    def connect_timeout(self, limit: float) -> float:
        return min(limit, max(self.deadline - time.monotonic(), 0.001))

    def failed(self, error: BaseException) -> None:
        """A try failed: ``unavailable`` past the deadline, else returns (try again, after the backoff)."""
        self.last_error = getattr(error, "strerror", None) or type(error).__name__
        self.backoff.failed()
        if self.verbose and self.backoff.failures == 1:
            log.info("credsd: cannot connect to %s (%s); retrying with backoff", self.path, self.last_error)
        if time.monotonic() >= self.deadline:
            raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {self.path} ({self.last_error})",
                                        method=self.method) from None

    def succeeded(self) -> None:
        if self.verbose and self.backoff.failures:
            log.info("credsd: connected to %s again", self.path)
        self.backoff.succeeded()


# -- clients ---------------------------------------------------------------------------------------------------


class ClientCore:
    """The settings of a client, sync or async (the socket's own defaults are class attributes)."""

    _env = ""
    _default_path = ""
    _default_max_frame: Optional[int] = None

    def _configure(self, socket_path_: Optional[str], timeout: float, connect_timeout: float,
                   max_frame_bytes: Optional[int], max_answer_bytes: Optional[int]) -> None:
        self.socket_path = socket_path(socket_path_, self._env, self._default_path)
        self.timeout = timeout
        self._max_frame = self._default_max_frame if max_frame_bytes == -1 else max_frame_bytes
        self._max_answer = max_answer_bytes
        self._connect_timeout = connect_timeout

    def _timeout(self, timeout: Optional[float]) -> float:
        return self.timeout if timeout is None else float(timeout)


# -- watch -----------------------------------------------------------------------------------------------------

_OVERFLOW: Dict[str, Any] = {"method": "<overflow>"}  # put in a watch's queue when it overflowed


def watch_unreachable(path: str, error: BaseException) -> CredsdConnectionError:
    return CredsdConnectionError(UNAVAILABLE, f"could not connect to {path} "
                                 f"({getattr(error, 'strerror', None) or type(error).__name__})", method="watch")


def watch_closed() -> CredsdConnectionError:
    return CredsdConnectionError(DISCONNECTED, "the connection closed", method="watch")


class WatchCore:
    """A watch's stream, whatever carries it: notifications are queued as they come (``put_nowait`` and
    ``qsize`` of the queue given), at most ``max_queued`` unread, then read one by one. The class that mixes
    it in has ``_connection`` (once connected) and ``_stop_overflowing(connection, why)``."""

    def _init_watch(self, queue: Any, idle_timeout: float, since: Optional[int], max_queued: int) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self._queue = queue
        self.max_queued = max_queued
        self._overflowed = False
        self.idle_timeout = idle_timeout
        self.ended: Optional[str] = None
        #: ``seq`` of the last event yielded (``since`` for the next watch)
        self.last_seq: Optional[int] = since
        #: the error credsd sent about the connection before closing it (a revoked peer uid), if any
        self.error: Optional[CredsdError] = None
        self._last_frame = time.monotonic()

    def _stop_overflowing(self, connection: Any, why: str) -> None:
        raise NotImplementedError

    def _receive(self, message: Notification) -> None:
        """As the reader gets it: queues a notification, or ends the watch once ``max_queued`` wait unread."""
        if message is None:
            self._queue.put_nowait(None)  # the close: always queued (once), so the reader ends
            return
        if self._overflowed:
            return
        if self._queue.qsize() >= self.max_queued:
            self._overflowed = True
            self._queue.put_nowait(_OVERFLOW)
            connection = getattr(self, "_connection", None)
            if connection is not None:  # credsd stops sending; None follows in the queue
                self._stop_overflowing(connection, f"the watch overflowed ({self.max_queued} events unread)")
            return
        self._queue.put_nowait(message)

    @staticmethod
    def _deadline(timeout: Optional[float]) -> Optional[float]:
        return None if timeout is None else time.monotonic() + timeout

    def _wait(self, deadline: Optional[float]) -> float:
        """How long to wait for the next message: until the watch is idle, or the caller's deadline."""
        wait = self._last_frame + self.idle_timeout - time.monotonic()
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        return max(wait, 0.0)

    def _nothing_came(self) -> None:
        """No message within the wait: returns when the watch is idle (it ends as ``"idle"``), else raises
        :class:`CredsdTimeout` (the watch goes on)."""
        if time.monotonic() >= self._last_frame + self.idle_timeout:
            return
        raise CredsdTimeout(TIMEOUT, "no event within the timeout", method="watch") from None

    def _read(self, message: Notification) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
        """A queued message: ``(event, None)``, ``(None, why the watch ends)``, or ``(None, None)`` for a
        heartbeat (or a notification this client does not know): only proof of life."""
        self._last_frame = time.monotonic()
        if message is None:
            connection = getattr(self, "_connection", None)
            self.error = connection.connection_error if connection is not None else None
            return None, "closed"
        if message is _OVERFLOW:
            return None, "overflow"
        kind = message.get("method")
        if kind == "event" and isinstance(message.get("params"), dict):
            event = message["params"]
            if isinstance(event.get("seq"), int):
                self.last_seq = event["seq"]
            return event, None
        if kind == "resync":
            return None, "resync"
        return None, None

    def _ending(self, why: str) -> None:
        if self.ended is None:
            self.ended = why
