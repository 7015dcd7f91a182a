"""Framing and connections: one Unix socket connection with pipelining, and a pool of them.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON (one JSON-RPC 2.0 object). Requests
on one connection carry distinct integer ids; a reader thread matches each answer to its request by id, so
answers may come in any order, and expires calls whose deadline passed.
"""

import concurrent.futures
import heapq
import itertools
import json
import logging
import os
import random
import select
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

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


class _NotSent(Exception):
    """The request could not be written: the connection is gone, and the request was not carried out."""

    def __init__(self, connection: Optional["Connection"] = None) -> None:
        super().__init__()
        self.connection = connection

    def refusal(self, wait: float) -> Optional[CredsdError]:
        """What credsd said about the connection before closing it (``overloaded``, ``forbidden``), if it did."""
        if self.connection is None:
            return None
        self.connection.wait_closed(wait)
        return self.connection.connection_error


Notification = Optional[Dict[str, Any]]


class Connection:
    """One connection: pipelined calls matched by id, a reader thread, per-call deadlines.

    ``on_notification`` receives every notification (a message with a ``method`` and no ``id``: the ``event``,
    ``heartbeat`` and ``resync`` of ``watch``), then ``None`` once when the connection has closed.
    ``max_answer_bytes``: a frame from the daemon announcing more is a ``protocol_error`` (the connection closes).
    """

    def __init__(
        self,
        path: str,
        *,
        connect_timeout: float = 5.0,
        max_frame_bytes: Optional[int] = None,
        max_answer_bytes: Optional[int] = DEFAULT_MAX_ANSWER_BYTES,
        on_notification: Optional[Callable[[Notification], None]] = None,
    ) -> None:
        self.path = path
        self.max_frame_bytes = max_frame_bytes
        self.max_answer_bytes = max_answer_bytes
        self._on_notification = on_notification
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(connect_timeout, 0.001))
            sock.connect(path)
            sock.setblocking(True)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._pending: Dict[int, Tuple[concurrent.futures.Future, str, Tuple[str, ...]]] = {}
        self._deadlines: List[Tuple[float, int]] = []
        self._ids = itertools.count(1)
        self._closing = False
        self._closed = False
        self._broken = False
        self._connection_error: Optional[Dict[str, Any]] = None
        self._ended = threading.Event()
        self._reader = threading.Thread(target=self._run, name="credsd-reader", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return not self._closed and not self._closing and not self._broken

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, request: "Request", timeout: float) -> concurrent.futures.Future:
        """Sends one request; the future is answered with the result, or fails with a :class:`CredsdError`."""
        method, secrets = request.method, request.secrets
        with self._lock:
            if not self.alive:
                raise _NotSent(self)
            request_id = next(self._ids)
        frame = request.frame(request_id)
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # answered by the reader, never cancelled
        future.request_id = request_id  # type: ignore[attr-defined]
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._lock:
            if not self.alive:
                raise _NotSent(self)
            self._pending[request_id] = (future, method, secrets)
            earliest = not self._deadlines or deadline < self._deadlines[0][0]
            heapq.heappush(self._deadlines, (deadline, request_id))
            if len(self._deadlines) > 2 * len(self._pending) + 1024:
                self._compact_deadlines()
        # Another thread's frame may be on its way (a large one, to a daemon that reads slowly or not at all):
        # waiting for it is bounded by this call's own deadline too.
        if not self._send_lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            with self._lock:
                self._pending.pop(request_id, None)
            raise CredsdTimeout(TIMEOUT, "the connection was busy sending other calls until the call's timeout; "
                                "nothing was sent", method=method)
        try:
            # A daemon that stops reading must not hold the caller past its deadline: a frame cut short
            # by the timeout is never read by credsd, as the connection is then closed.
            self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
            self._sock.sendall(frame)
        except OSError as error:
            with self._lock:
                self._pending.pop(request_id, None)
            # Nothing more is sent on this connection: a frame may have been cut short.
            self._broken = True
            if not isinstance(error, (BrokenPipeError, ConnectionResetError)):
                self._break()
            # else credsd closed it: the reader still reads what it said before closing, then the end.
            raise _NotSent(self) from None
        finally:
            self._send_lock.release()
        if earliest:
            self._wake()
        return future

    def abandon(self, request_id: int) -> None:
        """Forgets a call (its answer, if one comes, is dropped)."""
        with self._lock:
            self._pending.pop(request_id, None)

    def close(self) -> None:
        """Closes the connection; calls in flight fail with reason ``closed``."""
        with self._lock:
            if self._closing or self._closed:
                return
            self._closing = True
        self._break()

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        return self._ended.wait(timeout)

    # -- reader thread --------------------------------------------------------------------------------------

    def _wake(self) -> None:
        with self._lock:
            if self._closed:
                return  # the pipe is closed (its descriptor number may already be another file's)
            try:
                os.write(self._wake_w, b"\0")
            except OSError:  # full: the reader is awake anyway
                pass

    def _break(self) -> None:
        with self._lock:
            if not self._closed:
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._wake()

    def _compact_deadlines(self) -> None:
        self._deadlines = [entry for entry in self._deadlines if entry[1] in self._pending]
        heapq.heapify(self._deadlines)

    def _next_wait(self) -> Optional[float]:
        with self._lock:
            while self._deadlines and self._deadlines[0][1] not in self._pending:
                heapq.heappop(self._deadlines)
            if not self._deadlines:
                return None
            return max(0.0, self._deadlines[0][0] - time.monotonic())

    def _expire(self) -> None:
        now = time.monotonic()
        expired = []
        with self._lock:
            while self._deadlines and self._deadlines[0][0] <= now:
                _, request_id = heapq.heappop(self._deadlines)
                entry = self._pending.pop(request_id, None)
                if entry is not None:
                    expired.append(entry)
        for future, method, _ in expired:
            _settle(future, error=CredsdTimeout(TIMEOUT, "no answer within the call's timeout", method=method))

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        frames = FrameReader(self.max_answer_bytes)
        failure: Optional[str] = None
        self._failure_reason = DISCONNECTED
        try:
            while not self._closing:
                wait = self._next_wait()
                events = poller.poll(None if wait is None else max(1, int(wait * 1000 + 1)))
                for fd, _ in events:
                    if fd == self._wake_r:
                        os.read(self._wake_r, 4096)
                if self._closing:
                    break
                if any(fd == self._sock.fileno() for fd, _ in events):
                    try:
                        chunk = self._sock.recv(262144)
                    except (BlockingIOError, InterruptedError):
                        chunk = None
                    if chunk is not None:
                        if not chunk:
                            failure = "the daemon closed the connection"
                            break
                        for frame in frames.feed(chunk):
                            self._dispatch(frame)
                self._expire()
        except CredsdConnectionError as error:
            failure = error.message
            self._failure_reason = error.reason
        except OSError as error:
            failure = f"the connection failed ({error.strerror or type(error).__name__})"
        except Exception as error:  # a bug in a notification handler must not leave calls hanging
            failure = f"the connection's reader stopped ({type(error).__name__})"
            log.exception("credsd: reader stopped")
        finally:
            self._finish(failure)

    def _dispatch(self, frame: bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            raise CredsdConnectionError(PROTOCOL_ERROR, "the daemon sent a frame that is not JSON") from None
        if not isinstance(message, dict):
            raise CredsdConnectionError(PROTOCOL_ERROR, "the daemon sent a frame that is not a JSON object")
        if "id" not in message and isinstance(message.get("method"), str):
            if self._on_notification is not None:
                self._on_notification(message)
            return
        request_id = message.get("id")
        if request_id is None:
            # About the connection, not a call: frame_too_large, forbidden and overloaded close it next.
            if isinstance(message.get("error"), dict):
                self._connection_error = message["error"]
                reason = (message["error"].get("data") or {}).get("reason")
                log.info("credsd: %s answered an error about the connection: %s", self.path, reason)
            return
        with self._lock:
            # type() and not isinstance(): true and false are ints to Python, not ids to JSON-RPC
            entry = self._pending.pop(request_id, None) if type(request_id) is int else None
        if entry is None:
            return  # timed out or abandoned: dropped
        future, method, secrets = entry
        if "error" in message:
            _settle(future, error=error_from_answer(message["error"], method, secrets))
        elif "result" in message:
            _settle(future, result=message["result"])
        else:
            _settle(future, error=CredsdConnectionError(PROTOCOL_ERROR, "an answer without result or error",
                                                        method=method))

    def _finish(self, failure: Optional[str]) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a sender blocked on a daemon that stopped reading
        except OSError:
            pass
        with self._send_lock, self._lock:
            closing_by_us = self._closing
            self._closed = True
            pending = list(self._pending.values())
            self._pending.clear()
            self._deadlines.clear()
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            try:
                self._sock.close()
            except OSError:
                pass
        for future, method, secrets in pending:
            if self._connection_error is not None:
                error = error_from_answer(self._connection_error, method, secrets)
            elif closing_by_us:
                error = CredsdConnectionError(CLOSED, "the client was closed", method=method)
            else:
                error = CredsdConnectionError(self._failure_reason, (failure or "the connection closed") +
                                              " before the answer came", method=method)
            _settle(future, error=error)
        if not closing_by_us:
            log.info("credsd: connection to %s closed (%s)", self.path, failure or "closed")
        self._ended.set()
        if self._on_notification is not None:
            try:
                self._on_notification(None)
            except Exception:
                log.exception("credsd: notification handler failed")

    @property
    def connection_error(self) -> Optional[CredsdError]:
        """The error credsd sent about this connection (id ``null``) before closing it, if any."""
        return error_from_answer(self._connection_error) if self._connection_error is not None else None


def _settle(future: concurrent.futures.Future, result: Any = None, error: Optional[BaseException] = None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass


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


class _Slot:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connection: Optional[Connection] = None


class Pool:
    """``size`` connections to one socket; calls are spread over them in turn. A connection that closed is
    made again, with backoff, by the next call that needs it."""

    def __init__(
        self,
        path: str,
        size: int = 1,
        *,
        connect_timeout: float = 5.0,
        max_frame_bytes: Optional[int] = None,
        max_answer_bytes: Optional[int] = DEFAULT_MAX_ANSWER_BYTES,
        backoff: Tuple[float, float] = (0.02, 1.0),
    ) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self.path = path
        self.connect_timeout = connect_timeout
        self.max_frame_bytes = max_frame_bytes
        self.max_answer_bytes = max_answer_bytes
        self._slots = [_Slot() for _ in range(size)]
        self._backoffs = [Backoff(*backoff) for _ in range(size)]
        self._turn = itertools.count()
        self._closed = False

    @property
    def size(self) -> int:
        return len(self._slots)

    def connections(self) -> List[Optional[Connection]]:
        return [slot.connection for slot in self._slots]

    def connection(self, deadline: float, method: Optional[str] = None) -> Connection:
        """A live connection of the next slot, connecting (with backoff) until ``deadline``."""
        if self._closed:
            raise CredsdConnectionError(CLOSED, "the client was closed", method=method)
        index = next(self._turn) % len(self._slots)
        slot, backoff = self._slots[index], self._backoffs[index]
        connection = slot.connection
        if connection is not None and connection.alive:
            return connection
        if not slot.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {self.path} in time", method=method)
        try:
            last_error = "not tried"
            while True:
                if self._closed:
                    raise CredsdConnectionError(CLOSED, "the client was closed", method=method)
                connection = slot.connection
                if connection is not None and connection.alive:
                    return connection
                now = time.monotonic()
                if backoff.next_attempt > now:
                    if backoff.next_attempt >= deadline:
                        raise CredsdConnectionError(
                            UNAVAILABLE, f"could not connect to {self.path} ({last_error}); retrying with backoff",
                            method=method)
                    time.sleep(backoff.next_attempt - now)
                    now = time.monotonic()
                try:
                    connection = Connection(self.path, connect_timeout=min(self.connect_timeout,
                                                                           max(deadline - now, 0.001)),
                                            max_frame_bytes=self.max_frame_bytes,
                                            max_answer_bytes=self.max_answer_bytes)
                except OSError as error:
                    last_error = error.strerror or type(error).__name__
                    backoff.failed()
                    if backoff.failures == 1:
                        log.info("credsd: cannot connect to %s (%s); retrying with backoff", self.path, last_error)
                    if time.monotonic() >= deadline:
                        raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {self.path} ({last_error})",
                                                    method=method) from None
                    continue
                if backoff.failures:
                    log.info("credsd: connected to %s again", self.path)
                backoff.succeeded()
                slot.connection = connection
                return connection
        finally:
            slot.lock.release()

    def close(self) -> None:
        self._closed = True
        for slot in self._slots:
            if slot.connection is not None:
                slot.connection.close()


def call_with_retry(pool: Pool, method: str, params: Optional[Mapping[str, Any]], timeout: float) -> Any:
    """One call through ``pool``: reconnects as needed until the deadline; a call cut off by a closing
    connection is sent again once if the method is safe to repeat, or if it was never written."""
    deadline = time.monotonic() + timeout
    request = Request(method, params, pool.max_frame_bytes)
    repeated = False
    while True:
        connection = pool.connection(deadline, method)
        try:
            future = connection.submit(request, deadline - time.monotonic())
        except _NotSent as not_sent:
            refusal = not_sent.refusal(min(1.0, max(deadline - time.monotonic(), 0.0)))
            if refusal is not None:
                refusal.method = method
                raise refusal from None
            if time.monotonic() >= deadline:
                raise CredsdTimeout(TIMEOUT, "no connection could carry the call in time", method=method) from None
            continue
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0.0) + 2.0)
        except concurrent.futures.TimeoutError:
            connection.abandon(future.request_id)  # type: ignore[attr-defined]
            raise CredsdTimeout(TIMEOUT, "no answer within the call's timeout", method=method) from None
        except CredsdConnectionError as error:
            if (error.reason == DISCONNECTED and not repeated and method in SAFE_TO_REPEAT
                    and time.monotonic() < deadline):
                repeated = True
                continue
            raise


def submit(pool: Pool, method: str, params: Optional[Mapping[str, Any]], timeout: float) -> concurrent.futures.Future:
    """Sends one call without waiting for its answer (pipelining from one thread)."""
    deadline = time.monotonic() + timeout
    request = Request(method, params, pool.max_frame_bytes)
    while True:
        connection = pool.connection(deadline, method)
        try:
            return connection.submit(request, deadline - time.monotonic())
        except _NotSent as not_sent:
            refusal = not_sent.refusal(min(1.0, max(deadline - time.monotonic(), 0.0)))
            if refusal is not None:
                refusal.method = method
                raise refusal from None
            if time.monotonic() >= deadline:
                raise CredsdTimeout(TIMEOUT, "no connection could carry the call in time", method=method) from None
