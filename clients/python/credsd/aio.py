"""asyncio clients: :class:`AsyncResolveClient`, :class:`AsyncAdminClient` and :class:`AsyncWatch`.

The same methods as the synchronous clients, as coroutines; one connection pipelines every call made on it
(``asyncio.gather`` many calls, answers are matched by id), a pool spreads calls over several, a closed
connection is made again with backoff, and each call has a timeout.
"""

import asyncio
import itertools
import json
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from . import _transport as transport
from ._methods import AdminMethods, ResolveMethods
from ._model import grant_text, secret
from ._transport import _NotSent, log
from .client import DEFAULT_TIMEOUT, WATCH_IDLE_TIMEOUT, WATCH_MAX_QUEUED
from .errors import (
    CLOSED,
    DISCONNECTED,
    PROTOCOL_ERROR,
    TIMEOUT,
    UNAVAILABLE,
    CredsdConnectionError,
    CredsdError,
    CredsdTimeout,
    error_from_answer,
)


class AsyncConnection:
    """One connection on the running loop: pipelined calls matched by id.

    Writes are bounded: a call adds its frame only while the transport holds no more than its high-water mark
    unsent (else it waits for the daemon to read, within its deadline), and a call that times out with its frame
    still unsent closes the connection, so a daemon that stops reading cannot make the client's memory grow.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                 max_frame_bytes: Optional[int], on_notification: Optional[Callable[[Any], None]],
                 max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES) -> None:
        self.path = path
        self.max_frame_bytes = max_frame_bytes
        self.max_answer_bytes = max_answer_bytes
        self._reader = reader
        self._writer = writer
        self._on_notification = on_notification
        self._pending: Dict[int, Tuple[asyncio.Future, str, Tuple[str, ...]]] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._closing = False
        self._connection_error: Optional[Dict[str, Any]] = None
        self._failure_reason = DISCONNECTED
        self._abort_reason: Optional[str] = None
        self._written = 0  # bytes handed to the transport so far
        self._drain_lock = asyncio.Lock()
        self._task = asyncio.ensure_future(self._run())

    @classmethod
    async def open(cls, path: str, *, timeout: float, max_frame_bytes: Optional[int] = None,
                   max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES,
                   on_notification: Optional[Callable[[Any], None]] = None) -> "AsyncConnection":
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), max(timeout, 0.001))
        return cls(reader, writer, path, max_frame_bytes, on_notification, max_answer_bytes)

    @property
    def alive(self) -> bool:
        return not self._closed and not self._closing and not self._writer.is_closing()

    @property
    def connection_error(self) -> Optional[CredsdError]:
        return error_from_answer(self._connection_error) if self._connection_error is not None else None

    def _unsent(self) -> int:
        """Bytes handed to the transport that the daemon has not taken yet."""
        transport_ = self._writer.transport
        return transport_.get_write_buffer_size() if transport_ is not None else 0

    def _high_water(self) -> int:
        transport_ = self._writer.transport
        return transport_.get_write_buffer_limits()[1] if transport_ is not None else 0

    async def _drained(self, deadline: float) -> None:
        """Waits (until ``deadline``: ``asyncio.TimeoutError``) for the transport to take the buffer down."""
        if time.monotonic() >= deadline:
            raise asyncio.TimeoutError()

        async def drain() -> None:
            async with self._drain_lock:  # one drain() at a time (Python 3.9 allows no more)
                await self._writer.drain()

        await asyncio.wait_for(drain(), max(deadline - time.monotonic(), 0.001))

    async def call(self, request: transport.Request, timeout: float) -> Any:
        if not self.alive:
            raise _NotSent()
        method, secrets = request.method, request.secrets
        deadline = time.monotonic() + timeout
        request_id = next(self._ids)
        frame = request.frame(request_id)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, method, secrets)
        end: Optional[int] = None  # the stream offset just past this call's frame, once it is written
        try:
            # Back-pressure: while the daemon has not taken what is already written, wait rather than queue more.
            while self._unsent() > self._high_water():
                await self._drained(deadline)
                if self._unsent() > self._high_water():
                    await asyncio.sleep(0.005)  # a transport that does not pause its writers: poll
                if not self.alive:
                    raise _NotSent()
            if not self.alive:
                raise _NotSent()
            try:
                self._writer.write(frame)
            except (OSError, RuntimeError):
                self._abort()
                raise _NotSent() from None
            self._written += len(frame)
            end = self._written
            if self._unsent() > 0:
                await self._drained(deadline)
            return await asyncio.wait_for(asyncio.shield(future), max(deadline - time.monotonic(), 0.0))
        except asyncio.TimeoutError:
            if end is not None and self._written - self._unsent() < end:
                # The frame is not (wholly) sent: the daemon takes nothing, so whatever follows would pile up
                # behind it. Close the connection: the other calls on it fail as disconnected.
                self.abort("a call timed out with its request still unsent (the daemon is not reading)")
            raise CredsdTimeout(TIMEOUT, "no answer within the call's timeout", method=method) from None
        except (ConnectionError, OSError):
            if end is None:
                raise _NotSent() from None  # the frame never left: the call was not carried out
            if future.done():
                return future.result()
            return await future  # the reader settles it as the connection closes
        finally:
            self._pending.pop(request_id, None)

    def abort(self, why: Optional[str] = None) -> None:
        """Closes the connection at once (from any code on the loop): calls in flight fail as
        ``disconnected``, with ``why`` in their message."""
        if why is not None and self._abort_reason is None:
            self._abort_reason = why
        self._abort()

    def _abort(self) -> None:
        transport_ = self._writer.transport
        if transport_ is not None:
            transport_.abort()

    async def close(self) -> None:
        if self._closed or self._closing:
            return
        self._closing = True
        if self._unsent():
            self._abort()  # a daemon that does not read would hold a graceful close (and this call) forever
        else:
            self._writer.close()
        try:
            await self._task
        except Exception:
            pass

    async def _run(self) -> None:
        failure: Optional[str] = None
        try:
            while True:
                header = await self._reader.readexactly(4)
                length = int.from_bytes(header, "big")
                transport.check_answer_size(length, self.max_answer_bytes)  # protocol_error: not read at all
                body = await self._reader.readexactly(length)
                self._dispatch(body)
        except asyncio.IncompleteReadError:
            failure = "the daemon closed the connection"
        except CredsdConnectionError as error:
            failure = error.message
            self._failure_reason = error.reason
        except (OSError, ConnectionError) as error:
            failure = f"the connection failed ({getattr(error, 'strerror', None) or type(error).__name__})"
        except asyncio.CancelledError:
            failure = "cancelled"
        except Exception as error:
            failure = f"the connection's reader stopped ({type(error).__name__})"
            log.exception("credsd: reader stopped")
        finally:
            if self._abort_reason is not None and self._failure_reason == DISCONNECTED:
                failure = self._abort_reason
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
            if isinstance(message.get("error"), dict):
                self._connection_error = message["error"]
            return
        # type() and not isinstance(): true and false are ints to Python, not ids to JSON-RPC
        entry = self._pending.pop(request_id, None) if type(request_id) is int else None
        if entry is None:
            return
        future, method, secrets = entry
        if future.done():
            return
        if "error" in message:
            future.set_exception(error_from_answer(message["error"], method, secrets))
        elif "result" in message:
            future.set_result(message["result"])
        else:
            future.set_exception(CredsdConnectionError(PROTOCOL_ERROR, "an answer without result or error",
                                                       method=method))

    def _finish(self, failure: Optional[str]) -> None:
        closing_by_us = self._closing
        self._closed = True
        pending = list(self._pending.values())
        self._pending.clear()
        for future, method, secrets in pending:
            if future.done():
                continue
            if self._connection_error is not None:
                error: CredsdError = error_from_answer(self._connection_error, method, secrets)
            elif closing_by_us:
                error = CredsdConnectionError(CLOSED, "the client was closed", method=method)
            else:
                error = CredsdConnectionError(self._failure_reason, (failure or "the connection closed") +
                                              " before the answer came", method=method)
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning for abandoned calls
        if not closing_by_us:
            log.info("credsd: connection to %s closed (%s)", self.path, failure or "closed")
        if self._unsent():
            self._abort()  # what is still unsent belongs to the calls just failed: drop it
        else:
            self._writer.close()
        if self._on_notification is not None:
            self._on_notification(None)


class _AsyncSlot:
    def __init__(self, backoff: Tuple[float, float]) -> None:
        self.connection: Optional[AsyncConnection] = None
        self.lock: Optional[asyncio.Lock] = None
        self.backoff = transport.Backoff(*backoff)


class _AsyncClient:
    _env = ""
    _default_path = ""
    _default_max_frame: Optional[int] = None

    def __init__(self, socket_path: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT, pool_size: int = 1,
                 connect_timeout: float = 5.0, max_frame_bytes: Optional[int] = -1,
                 max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES,
                 reconnect_backoff: Tuple[float, float] = (0.02, 1.0)) -> None:
        """As the synchronous clients. Connections belong to the event loop of the first call."""
        if pool_size < 1:
            raise ValueError("pool size must be at least 1")
        self.socket_path = transport.socket_path(socket_path, self._env, self._default_path)
        self.timeout = timeout
        self._max_frame = self._default_max_frame if max_frame_bytes == -1 else max_frame_bytes
        self._max_answer = max_answer_bytes
        self._connect_timeout = connect_timeout
        self._slots = [_AsyncSlot(reconnect_backoff) for _ in range(pool_size)]
        self._turn = itertools.count()
        self._closed = False

    async def _connection(self, deadline: float, method: str) -> AsyncConnection:
        if self._closed:
            raise CredsdConnectionError(CLOSED, "the client was closed", method=method)
        slot = self._slots[next(self._turn) % len(self._slots)]
        if slot.connection is not None and slot.connection.alive:
            return slot.connection
        if slot.lock is None:
            slot.lock = asyncio.Lock()
        async with slot.lock:
            last_error = "not tried"
            while True:
                if self._closed:
                    raise CredsdConnectionError(CLOSED, "the client was closed", method=method)
                if slot.connection is not None and slot.connection.alive:
                    return slot.connection
                now = time.monotonic()
                if slot.backoff.next_attempt > now:
                    if slot.backoff.next_attempt >= deadline:
                        raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {self.socket_path} "
                                                    f"({last_error}); retrying with backoff", method=method)
                    await asyncio.sleep(slot.backoff.next_attempt - now)
                try:
                    connection = await AsyncConnection.open(
                        self.socket_path, timeout=min(self._connect_timeout, deadline - time.monotonic()),
                        max_frame_bytes=self._max_frame, max_answer_bytes=self._max_answer)
                except (OSError, asyncio.TimeoutError) as error:
                    last_error = getattr(error, "strerror", None) or type(error).__name__
                    slot.backoff.failed()
                    if time.monotonic() >= deadline:
                        raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {self.socket_path} "
                                                    f"({last_error})", method=method) from None
                    continue
                slot.backoff.succeeded()
                slot.connection = connection
                return connection

    async def call(self, method: str, params: Optional[Mapping[str, Any]] = None, *,
                   timeout: Optional[float] = None) -> Any:
        """Any method by name, params by their wire names: the answer's ``result``."""
        params = dict(params or {})
        deadline = time.monotonic() + (self.timeout if timeout is None else float(timeout))
        request = transport.Request(method, params, self._max_frame)
        repeated = False
        while True:
            connection = await self._connection(deadline, method)
            try:
                return await connection.call(request, deadline - time.monotonic())
            except _NotSent:
                if time.monotonic() >= deadline:
                    raise CredsdTimeout(TIMEOUT, "no connection could carry the call in time", method=method) \
                        from None
            except CredsdConnectionError as error:
                if (error.reason == DISCONNECTED and not repeated and method in transport.SAFE_TO_REPEAT
                        and time.monotonic() < deadline):
                    repeated = True
                    continue
                raise

    async def _invoke(self, method: str, params: Dict[str, Any], wrap, timeout: Optional[float]):
        result = await self.call(method, params, timeout=timeout)
        return wrap(result) if wrap is not None else result

    async def _open_watch(self, params: Dict[str, Any], timeout: Optional[float], idle_timeout: float,
                          max_queued: int):
        return await AsyncWatch.open(self.socket_path, params, timeout=self.timeout if timeout is None else timeout,
                                     idle_timeout=idle_timeout, max_frame_bytes=self._max_frame,
                                     max_answer_bytes=self._max_answer, max_queued=max_queued)

    async def close(self) -> None:
        self._closed = True
        for slot in self._slots:
            if slot.connection is not None:
                await slot.connection.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(socket_path={self.socket_path!r}, pool_size={len(self._slots)})"


class AsyncResolveClient(ResolveMethods, _AsyncClient):
    """:class:`credsd.ResolveClient` for asyncio: ``await client.resolve(...)``,
    ``async with await client.watch(...) as w: async for event in w``."""

    _env = transport.RESOLVE_SOCKET_ENV
    _default_path = transport.DEFAULT_RESOLVE_SOCKET
    _default_max_frame = transport.RESOLVE_MAX_FRAME_BYTES

    def __init__(self, socket_path: Optional[str] = None, *, grant: Any = None, **options: Any) -> None:
        super().__init__(socket_path, **options)
        self._grant = secret(grant_text(grant))  # a Secret: vars(client) and repr show no grant

    async def watch(self, grant: Any = None, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
                    timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT,
                    max_queued: int = WATCH_MAX_QUEUED) -> "AsyncWatch":
        return await self._open_watch(self._watch_params(grant, since, workspace_id), timeout, idle_timeout,
                                      max_queued)


class AsyncAdminClient(AdminMethods, _AsyncClient):
    """:class:`credsd.AdminClient` for asyncio."""

    _env = transport.ADMIN_SOCKET_ENV
    _default_path = transport.DEFAULT_ADMIN_SOCKET
    _default_max_frame = None

    def __init__(self, socket_path: Optional[str] = None, *, actor: Optional[str] = None, **options: Any) -> None:
        super().__init__(socket_path, **options)
        self._actor = actor

    async def watch(self, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
                    timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT,
                    max_queued: int = WATCH_MAX_QUEUED) -> "AsyncWatch":
        return await self._open_watch(self._watch_params(None, since, workspace_id), timeout, idle_timeout,
                                      max_queued)


_OVERFLOW: Dict[str, Any] = {"method": "<overflow>"}  # put in a watch's queue when it overflowed


class AsyncWatch:
    """:class:`credsd.Watch` for asyncio: ``async for event in watch``; :attr:`ended` (``"overflow"`` too, after
    ``max_queued`` events came in unread) and :attr:`last_seq` as there."""

    def __init__(self, idle_timeout: float, since: Optional[int], max_queued: int = WATCH_MAX_QUEUED) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self._queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self.max_queued = max_queued
        self._overflowed = False
        self.idle_timeout = idle_timeout
        self.ended: Optional[str] = None
        self.last_seq = since
        self.error: Optional[CredsdError] = None
        self._connection: Optional[AsyncConnection] = None
        self._last_frame = time.monotonic()

    @classmethod
    async def open(cls, path: str, params: Dict[str, Any], *, timeout: float, idle_timeout: float,
                   max_frame_bytes: Optional[int],
                   max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES,
                   max_queued: int = WATCH_MAX_QUEUED) -> "AsyncWatch":
        watch = cls(idle_timeout, params.get("since"), max_queued)
        deadline = time.monotonic() + timeout
        try:
            watch._connection = await AsyncConnection.open(path, timeout=timeout, max_frame_bytes=max_frame_bytes,
                                                           max_answer_bytes=max_answer_bytes,
                                                           on_notification=watch._receive)
        except (OSError, asyncio.TimeoutError) as error:
            raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {path} "
                                        f"({getattr(error, 'strerror', None) or type(error).__name__})",
                                        method="watch") from None
        try:
            await watch._connection.call(transport.Request("watch", params, max_frame_bytes),
                                         deadline - time.monotonic())
        except _NotSent:
            await watch._connection.close()
            raise CredsdConnectionError(DISCONNECTED, "the connection closed", method="watch") from None
        except BaseException:
            await watch._connection.close()
            raise
        watch._last_frame = time.monotonic()
        return watch

    def _receive(self, message: Any) -> None:
        """Queues a notification, or ends the watch once ``max_queued`` wait unread."""
        if message is None:
            self._queue.put_nowait(None)
            return
        if self._overflowed:
            return
        if self._queue.qsize() >= self.max_queued:
            self._overflowed = True
            self._queue.put_nowait(_OVERFLOW)
            if self._connection is not None:
                self._connection.abort(f"the watch overflowed ({self.max_queued} events unread)")
            return
        self._queue.put_nowait(message)

    def __aiter__(self) -> "AsyncWatch":
        return self

    async def __anext__(self) -> Dict[str, Any]:
        event = await self.next_event()
        if event is None:
            raise StopAsyncIteration
        return event

    async def next_event(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.ended is None:
            wait = self._last_frame + self.idle_timeout - time.monotonic()
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(self._queue.get(), max(wait, 0.0))
            except asyncio.TimeoutError:
                if time.monotonic() >= self._last_frame + self.idle_timeout:
                    await self._end("idle")
                    break
                raise CredsdTimeout(TIMEOUT, "no event within the timeout", method="watch") from None
            self._last_frame = time.monotonic()
            if message is None:
                self.error = self._connection.connection_error if self._connection else None
                await self._end("closed")
                break
            if message is _OVERFLOW:
                await self._end("overflow")
                break
            kind = message.get("method")
            if kind == "event" and isinstance(message.get("params"), dict):
                event = message["params"]
                if isinstance(event.get("seq"), int):
                    self.last_seq = event["seq"]
                return event
            if kind == "resync":
                await self._end("resync")
                break
        return None

    async def _end(self, why: str) -> None:
        if self.ended is None:
            self.ended = why
        if self._connection is not None:
            await self._connection.close()

    async def close(self) -> None:
        await self._end("stopped")

    async def __aenter__(self) -> "AsyncWatch":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncWatch(ended={self.ended!r}, last_seq={self.last_seq!r})"
