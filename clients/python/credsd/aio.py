"""asyncio clients: :class:`AsyncResolveClient`, :class:`AsyncAdminClient` and :class:`AsyncWatch`.

The same methods as the synchronous clients, as coroutines; one connection pipelines every call made on it
(``asyncio.gather`` many calls, answers are matched by id), a pool spreads calls over several, a closed
connection is made again with backoff, and each call has a timeout.
"""

import asyncio
import itertools
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from . import _transport as transport
from ._core import (
    CLOSED_BY_DAEMON,
    Attempt,
    Backoff,
    CallTable,
    ClientCore,
    Connecting,
    Notification,
    PendingCall,
    Request,
    WatchCore,
    call_timeout,
    check_answer_size,
    client_closed,
    watch_closed,
    watch_unreachable,
)
from ._methods import AdminMethods, ResolveMethods
from ._transport import _NotSent
from .client import DEFAULT_TIMEOUT, WATCH_IDLE_TIMEOUT, WATCH_MAX_QUEUED
from .errors import DISCONNECTED, UNAVAILABLE, CredsdConnectionError, CredsdError, CredsdTimeout  # noqa: F401


class AsyncConnection(CallTable):
    """One connection on the running loop: pipelined calls matched by id.

    Writes are bounded: a call adds its frame only while the transport holds no more than its high-water mark
    unsent (else it waits for the daemon to read, within its deadline), and a call that times out with its frame
    still unsent closes the connection, so a daemon that stops reading cannot make the client's memory grow.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                 max_frame_bytes: Optional[int], on_notification: Optional[Callable[[Notification], None]],
                 max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES) -> None:
        self._init_calls(path, on_notification)
        self.max_frame_bytes = max_frame_bytes
        self.max_answer_bytes = max_answer_bytes
        self._reader = reader
        self._writer = writer
        self._closed = False
        self._closing = False
        self._abort_reason: Optional[str] = None
        self._written = 0  # bytes handed to the transport so far
        self._drain_lock = asyncio.Lock()
        self._task = asyncio.ensure_future(self._run())

    @classmethod
    async def open(cls, path: str, *, timeout: float, max_frame_bytes: Optional[int] = None,
                   max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES,
                   on_notification: Optional[Callable[[Notification], None]] = None) -> "AsyncConnection":
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), max(timeout, 0.001))
        return cls(reader, writer, path, max_frame_bytes, on_notification, max_answer_bytes)

    @property
    def alive(self) -> bool:
        return not self._closed and not self._closing and not self._writer.is_closing()

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

    async def call(self, request: Request, timeout: float) -> Any:
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
            raise call_timeout(method) from None
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

    # -- the CallTable's hooks ------------------------------------------------------------------------------

    def _take(self, request_id: int) -> Optional[PendingCall]:
        return self._pending.pop(request_id, None)

    @staticmethod
    def _settle(future: "asyncio.Future[Any]", result: Any = None, error: Optional[BaseException] = None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning for abandoned calls
        else:
            future.set_result(result)

    # -- reader task ----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        failure: Optional[str] = None
        try:
            while True:
                header = await self._reader.readexactly(4)
                length = int.from_bytes(header, "big")
                check_answer_size(length, self.max_answer_bytes)  # protocol_error: not read at all
                body = await self._reader.readexactly(length)
                self._dispatch(body)
        except asyncio.IncompleteReadError:
            failure = CLOSED_BY_DAEMON
        except asyncio.CancelledError:
            failure = "cancelled"
        except Exception as error:  # protocol_error, OSError, or a bug in a notification handler
            failure = self._reading_failed(error)
        finally:
            if self._abort_reason is not None and self._failure_reason == DISCONNECTED:
                failure = self._abort_reason
            self._finish(failure)

    def _finish(self, failure: Optional[str]) -> None:
        closing_by_us = self._closing
        self._closed = True
        pending = list(self._pending.values())
        self._pending.clear()
        self._fail_calls(pending, failure, closing_by_us)
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
        self.backoff = Backoff(*backoff)


class _AsyncClient(ClientCore):
    def __init__(self, socket_path: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT, pool_size: int = 1,
                 connect_timeout: float = 5.0, max_frame_bytes: Optional[int] = -1,
                 max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES,
                 reconnect_backoff: Tuple[float, float] = (0.02, 1.0)) -> None:
        """As the synchronous clients. Connections belong to the event loop of the first call."""
        if pool_size < 1:
            raise ValueError("pool size must be at least 1")
        self._configure(socket_path, timeout, connect_timeout, max_frame_bytes, max_answer_bytes)
        self._slots = [_AsyncSlot(reconnect_backoff) for _ in range(pool_size)]
        self._turn = itertools.count()
        self._closed = False

    async def _connection(self, deadline: float, method: str) -> AsyncConnection:
        if self._closed:
            raise client_closed(method)
        slot = self._slots[next(self._turn) % len(self._slots)]
        if slot.connection is not None and slot.connection.alive:
            return slot.connection
        if slot.lock is None:
            slot.lock = asyncio.Lock()
        # Bounded like the threaded pool's: a short call does not wait out another call's reconnect backoff.
        try:
            await asyncio.wait_for(slot.lock.acquire(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise CredsdConnectionError(UNAVAILABLE, f"could not connect to {self.socket_path} in time",
                                        method=method) from None
        try:
            tries = Connecting(self.socket_path, slot.backoff, deadline, method)
            while True:
                if self._closed:
                    raise client_closed(method)
                if slot.connection is not None and slot.connection.alive:
                    return slot.connection
                delay = tries.delay()
                if delay:
                    await asyncio.sleep(delay)
                try:
                    connection = await AsyncConnection.open(
                        self.socket_path, timeout=tries.connect_timeout(self._connect_timeout),
                        max_frame_bytes=self._max_frame, max_answer_bytes=self._max_answer)
                except (OSError, asyncio.TimeoutError) as error:
                    tries.failed(error)
                    continue
                tries.succeeded()
                slot.connection = connection
                return connection
        finally:
            slot.lock.release()

    async def call(self, method: str, params: Optional[Mapping[str, Any]] = None, *,
                   timeout: Optional[float] = None) -> Any:
        """Any method by name, params by their wire names: the answer's ``result``."""
        attempt = Attempt(method, dict(params or {}), self._max_frame, self._timeout(timeout))
        while True:
            connection = await self._connection(attempt.deadline, method)
            try:
                return await connection.call(attempt.request, attempt.remaining())
            except _NotSent:
                attempt.not_sent()
            except CredsdConnectionError as error:
                if not attempt.may_resend(error):
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

    async def watch(self, grant: Any = None, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
                    timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT,
                    max_queued: int = WATCH_MAX_QUEUED) -> "AsyncWatch":
        return await self._open_watch(self._watch_params(grant, since, workspace_id), timeout, idle_timeout,
                                      max_queued)


class AsyncAdminClient(AdminMethods, _AsyncClient):
    """:class:`credsd.AdminClient` for asyncio."""

    async def watch(self, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
                    timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT,
                    max_queued: int = WATCH_MAX_QUEUED) -> "AsyncWatch":
        return await self._open_watch(self._watch_params(None, since, workspace_id), timeout, idle_timeout,
                                      max_queued)


class AsyncWatch(WatchCore):
    """:class:`credsd.Watch` for asyncio: ``async for event in watch``; :attr:`ended` (``"overflow"`` too, after
    ``max_queued`` events came in unread) and :attr:`last_seq` as there."""

    def __init__(self, idle_timeout: float, since: Optional[int], max_queued: int = WATCH_MAX_QUEUED) -> None:
        queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self._init_watch(queue, idle_timeout, since, max_queued)
        self._connection: Optional[AsyncConnection] = None

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
            raise watch_unreachable(path, error) from None
        try:
            await watch._connection.call(Request("watch", params, max_frame_bytes), deadline - time.monotonic())
        except _NotSent:
            await watch._connection.close()
            raise watch_closed() from None
        except BaseException:
            await watch._connection.close()
            raise
        watch._last_frame = time.monotonic()
        return watch

    def _stop_overflowing(self, connection: AsyncConnection, why: str) -> None:
        connection.abort(why)

    def __aiter__(self) -> "AsyncWatch":
        return self

    async def __anext__(self) -> Dict[str, Any]:
        event = await self.next_event()
        if event is None:
            raise StopAsyncIteration
        return event

    async def next_event(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        deadline = self._deadline(timeout)
        while self.ended is None:
            try:
                message = await asyncio.wait_for(self._queue.get(), self._wait(deadline))
            except asyncio.TimeoutError:
                self._nothing_came()
                await self._end("idle")
                break
            event, end = self._read(message)
            if end is not None:
                await self._end(end)
                break
            if event is not None:
                return event
        return None

    async def _end(self, why: str) -> None:
        self._ending(why)
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
