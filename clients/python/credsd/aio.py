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
from ._transport import _NotSent, log
from .client import DEFAULT_TIMEOUT, WATCH_IDLE_TIMEOUT
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
    """One connection on the running loop: pipelined calls matched by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                 max_frame_bytes: Optional[int], on_notification: Optional[Callable[[Any], None]]) -> None:
        self.path = path
        self.max_frame_bytes = max_frame_bytes
        self._reader = reader
        self._writer = writer
        self._on_notification = on_notification
        self._pending: Dict[int, Tuple[asyncio.Future, str, Tuple[str, ...]]] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._closing = False
        self._connection_error: Optional[Dict[str, Any]] = None
        self._failure_reason = DISCONNECTED
        self._drain_lock = asyncio.Lock()
        self._task = asyncio.ensure_future(self._run())

    @classmethod
    async def open(cls, path: str, *, timeout: float, max_frame_bytes: Optional[int] = None,
                   on_notification: Optional[Callable[[Any], None]] = None) -> "AsyncConnection":
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), max(timeout, 0.001))
        return cls(reader, writer, path, max_frame_bytes, on_notification)

    @property
    def alive(self) -> bool:
        return not self._closed and not self._closing and not self._writer.is_closing()

    @property
    def connection_error(self) -> Optional[CredsdError]:
        return error_from_answer(self._connection_error) if self._connection_error is not None else None

    async def call(self, request: transport.Request, timeout: float) -> Any:
        if not self.alive:
            raise _NotSent()
        method, secrets = request.method, request.secrets
        deadline = time.monotonic() + timeout
        request_id = next(self._ids)
        frame = request.frame(request_id)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, method, secrets)
        try:
            self._writer.write(frame)
        except (OSError, RuntimeError):
            self._pending.pop(request_id, None)
            self._abort()
            raise _NotSent() from None
        try:
            if self._writer.transport.get_write_buffer_size() > 0:
                async with self._drain_lock:
                    await asyncio.wait_for(self._writer.drain(), max(deadline - time.monotonic(), 0.001))
            return await asyncio.wait_for(asyncio.shield(future), max(deadline - time.monotonic(), 0.0))
        except asyncio.TimeoutError:
            raise CredsdTimeout(TIMEOUT, "no answer within the call's timeout", method=method) from None
        except (ConnectionError, OSError):
            if future.done():
                return future.result()
            return await future  # the reader settles it as the connection closes
        finally:
            self._pending.pop(request_id, None)

    def _abort(self) -> None:
        transport_ = self._writer.transport
        if transport_ is not None:
            transport_.abort()

    async def close(self) -> None:
        if self._closed or self._closing:
            return
        self._closing = True
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
                body = await self._reader.readexactly(int.from_bytes(header, "big"))
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
        entry = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
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
                 reconnect_backoff: Tuple[float, float] = (0.02, 1.0)) -> None:
        """As the synchronous clients. Connections belong to the event loop of the first call."""
        if pool_size < 1:
            raise ValueError("pool size must be at least 1")
        self.socket_path = transport.socket_path(socket_path, self._env, self._default_path)
        self.timeout = timeout
        self._max_frame = self._default_max_frame if max_frame_bytes == -1 else max_frame_bytes
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
                        max_frame_bytes=self._max_frame)
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

    async def _open_watch(self, params: Dict[str, Any], timeout: Optional[float], idle_timeout: float):
        return await AsyncWatch.open(self.socket_path, params, timeout=self.timeout if timeout is None else timeout,
                                     idle_timeout=idle_timeout, max_frame_bytes=self._max_frame)

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
        self._grant = self._grant_for(grant)

    async def watch(self, grant: Any = None, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
                    timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT) -> "AsyncWatch":
        return await self._open_watch(self._watch_params(grant, since, workspace_id), timeout, idle_timeout)


class AsyncAdminClient(AdminMethods, _AsyncClient):
    """:class:`credsd.AdminClient` for asyncio."""

    _env = transport.ADMIN_SOCKET_ENV
    _default_path = transport.DEFAULT_ADMIN_SOCKET
    _default_max_frame = None

    def __init__(self, socket_path: Optional[str] = None, *, actor: Optional[str] = None, **options: Any) -> None:
        super().__init__(socket_path, **options)
        self._actor = actor

    async def watch(self, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
                    timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT) -> "AsyncWatch":
        return await self._open_watch(self._watch_params(None, since, workspace_id), timeout, idle_timeout)


class AsyncWatch:
    """:class:`credsd.Watch` for asyncio: ``async for event in watch``; :attr:`ended` and :attr:`last_seq` as
    there."""

    def __init__(self, idle_timeout: float, since: Optional[int]) -> None:
        self._queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self.idle_timeout = idle_timeout
        self.ended: Optional[str] = None
        self.last_seq = since
        self.error: Optional[CredsdError] = None
        self._connection: Optional[AsyncConnection] = None
        self._last_frame = time.monotonic()

    @classmethod
    async def open(cls, path: str, params: Dict[str, Any], *, timeout: float, idle_timeout: float,
                   max_frame_bytes: Optional[int]) -> "AsyncWatch":
        watch = cls(idle_timeout, params.get("since"))
        deadline = time.monotonic() + timeout
        try:
            watch._connection = await AsyncConnection.open(path, timeout=timeout, max_frame_bytes=max_frame_bytes,
                                                           on_notification=watch._queue.put_nowait)
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
