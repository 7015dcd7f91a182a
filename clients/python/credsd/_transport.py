"""Framing and connections: one Unix socket connection with pipelining, and a pool of them.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON (one JSON-RPC 2.0 object). Requests
on one connection carry distinct integer ids; a reader thread matches each answer to its request by id, so
answers may come in any order, and expires calls whose deadline passed.
"""

import concurrent.futures
import heapq
import itertools
import os
import select
import socket
import threading
import time
from typing import Any, Callable, List, Mapping, Optional, Tuple

from ._core import (  # noqa: F401 (the public and tested names this module had before the core was split out)
    ADMIN_MAX_FRAME_BYTES,
    ADMIN_SOCKET_ENV,
    CLOSED_BY_DAEMON,
    DEFAULT_ADMIN_SOCKET,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_RESOLVE_SOCKET,
    RESOLVE_MAX_FRAME_BYTES,
    RESOLVE_SOCKET_ENV,
    SAFE_TO_REPEAT,
    SECRET_PARAMS,
    Attempt,
    Backoff,
    CallTable,
    Connecting,
    FrameReader,
    Notification,
    PendingCall,
    Request,
    call_timeout,
    check_answer_size,
    client_closed,
    encode_frame,
    log,
    secrets_of,
    socket_path,
)
from .errors import TIMEOUT, UNAVAILABLE, CredsdConnectionError, CredsdError, CredsdTimeout


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


def _settle(future: concurrent.futures.Future, result: Any = None, error: Optional[BaseException] = None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass


class Connection(CallTable):
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
        self._init_calls(path, on_notification)
        self.max_frame_bytes = max_frame_bytes
        self.max_answer_bytes = max_answer_bytes
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
        self._deadlines: List[Tuple[float, int]] = []
        self._closing = False
        self._closed = False
        self._broken = False
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
        self._take(request_id)

    def close(self) -> None:
        """Closes the connection; calls in flight fail with reason ``closed``."""
        with self._lock:
            if self._closing or self._closed:
                return
            self._closing = True
        self._break()

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        return self._ended.wait(timeout)

    # -- the CallTable's hooks ------------------------------------------------------------------------------

    def _take(self, request_id: int) -> Optional[PendingCall]:
        with self._lock:
            return self._pending.pop(request_id, None)

    _settle = staticmethod(_settle)

    def _connection_refused(self, error: Mapping[str, Any]) -> None:
        reason = (error.get("data") or {}).get("reason")
        log.info("credsd: %s answered an error about the connection: %s", self.path, reason)

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
            _settle(future, error=call_timeout(method))

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        frames = FrameReader(self.max_answer_bytes)
        failure: Optional[str] = None
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
                            failure = CLOSED_BY_DAEMON
                            break
                        for frame in frames.feed(chunk):
                            self._dispatch(frame)
                self._expire()
        except Exception as error:  # protocol_error, OSError, or a bug in a notification handler
            failure = self._reading_failed(error)
        finally:
            self._finish(failure)

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
        self._fail_calls(pending, failure, closing_by_us)
        self._ended.set()
        if self._on_notification is not None:
            try:
                self._on_notification(None)
            except Exception:
                log.exception("credsd: notification handler failed")


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
            raise client_closed(method)
        index = next(self._turn) % len(self._slots)
        slot = self._slots[index]
        connection = slot.connection
        if connection is not None and connection.alive:
            return connection
        if not slot.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {self.path} in time", method=method)
        try:
            tries = Connecting(self.path, self._backoffs[index], deadline, method, verbose=True)
            while True:
                if self._closed:
                    raise client_closed(method)
                connection = slot.connection
                if connection is not None and connection.alive:
                    return connection
                delay = tries.delay()
                if delay:
                    time.sleep(delay)
                try:
                    connection = Connection(self.path, connect_timeout=tries.connect_timeout(self.connect_timeout),
                                            max_frame_bytes=self.max_frame_bytes,
                                            max_answer_bytes=self.max_answer_bytes)
                except OSError as error:
                    tries.failed(error)
                    continue
                tries.succeeded()
                slot.connection = connection
                return connection
        finally:
            slot.lock.release()

    def close(self) -> None:
        self._closed = True
        for slot in self._slots:
            if slot.connection is not None:
                slot.connection.close()


def _submit(pool: Pool, attempt: Attempt) -> Tuple[Connection, concurrent.futures.Future]:
    """One try written on a connection of ``pool`` (connecting, and writing again, until the deadline)."""
    while True:
        connection = pool.connection(attempt.deadline, attempt.method)
        try:
            return connection, connection.submit(attempt.request, attempt.remaining())
        except _NotSent as not_sent:
            attempt.not_sent(not_sent.refusal(min(1.0, max(attempt.remaining(), 0.0))))


def call_with_retry(pool: Pool, method: str, params: Optional[Mapping[str, Any]], timeout: float) -> Any:
    """One call through ``pool``: reconnects as needed until the deadline; a call cut off by a closing
    connection is sent again once if the method is safe to repeat, or if it was never written."""
    attempt = Attempt(method, params, pool.max_frame_bytes, timeout)
    while True:
        connection, future = _submit(pool, attempt)
        try:
            return future.result(timeout=max(attempt.remaining(), 0.0) + 2.0)
        except concurrent.futures.TimeoutError:
            connection.abandon(future.request_id)  # type: ignore[attr-defined]
            raise call_timeout(method) from None
        except CredsdConnectionError as error:
            if attempt.may_resend(error):
                continue
            raise


def submit(pool: Pool, method: str, params: Optional[Mapping[str, Any]], timeout: float) -> concurrent.futures.Future:
    """Sends one call without waiting for its answer (pipelining from one thread)."""
    return _submit(pool, Attempt(method, params, pool.max_frame_bytes, timeout))[1]
