"""The synchronous clients: :class:`ResolveClient` and :class:`AdminClient`, and :class:`Watch`."""

import concurrent.futures
import queue
import time
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

from . import _transport as transport
from ._methods import AdminMethods, ResolveMethods
from ._model import grant_text, secret
from .errors import TIMEOUT, CredsdError, CredsdTimeout

DEFAULT_TIMEOUT = 10.0
#: credsd sends a heartbeat every 30 s on a watching connection; this long without any frame means it is dead.
WATCH_IDLE_TIMEOUT = 75.0
#: The most events (and heartbeats) a watch holds unread: one more ends it as ``"overflow"``.
WATCH_MAX_QUEUED = 10000


class _Client:
    _env = ""
    _default_path = ""
    _default_max_frame: Optional[int] = None

    def __init__(
        self,
        socket_path: Optional[str] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        pool_size: int = 1,
        connect_timeout: float = 5.0,
        max_frame_bytes: Optional[int] = -1,
        max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES,
        reconnect_backoff: Tuple[float, float] = (0.02, 1.0),
    ) -> None:
        """``socket_path``: else ``$CREDSD_RESOLVE_SOCKET`` / ``$CREDSD_ADMIN_SOCKET``, else the default under
        ``/run/credsd``. ``timeout``: the default per call, in seconds, connecting included. ``pool_size``:
        connections, calls spread over them in turn (each one pipelines). ``max_frame_bytes``: a request larger
        than this is refused before it is sent (``frame_too_large``; ``None``: no check). ``max_answer_bytes``
        (default 64 MiB): a frame from the daemon announcing more is a ``protocol_error`` and closes the
        connection (``None``: no limit). ``reconnect_backoff``: (first delay, largest delay) between attempts to
        connect again. Nothing connects until the first call.
        """
        self.socket_path = transport.socket_path(socket_path, self._env, self._default_path)
        self.timeout = timeout
        self._max_frame = self._default_max_frame if max_frame_bytes == -1 else max_frame_bytes
        self._max_answer = max_answer_bytes
        self._connect_timeout = connect_timeout
        self._pool = transport.Pool(self.socket_path, pool_size, connect_timeout=connect_timeout,
                                    max_frame_bytes=self._max_frame, max_answer_bytes=max_answer_bytes,
                                    backoff=reconnect_backoff)

    def call(self, method: str, params: Optional[Mapping[str, Any]] = None, *, timeout: Optional[float] = None):
        """Any method, by name, with params by their wire (camelCase) names: the answer's ``result``."""
        return transport.call_with_retry(self._pool, method, dict(params or {}), self._timeout(timeout))

    def submit(self, method: str, params: Optional[Mapping[str, Any]] = None, *,
               timeout: Optional[float] = None) -> concurrent.futures.Future:
        """Sends a call and returns at once: a ``Future`` of its ``result`` (or its :class:`CredsdError`).
        Many calls submitted from one thread are pipelined on the connection."""
        return transport.submit(self._pool, method, dict(params or {}), self._timeout(timeout))

    def _timeout(self, timeout: Optional[float]) -> float:
        return self.timeout if timeout is None else float(timeout)

    def _invoke(self, method: str, params: Dict[str, Any], wrap: Optional[Callable[[Any], Any]],
                timeout: Optional[float]):
        result = self.call(method, params, timeout=timeout)
        return wrap(result) if wrap is not None else result

    def _open_watch(self, params: Dict[str, Any], timeout: Optional[float], idle_timeout: float,
                    max_queued: int) -> "Watch":
        return Watch(self.socket_path, params, timeout=self._timeout(timeout), idle_timeout=idle_timeout,
                     connect_timeout=self._connect_timeout, max_frame_bytes=self._max_frame,
                     max_answer_bytes=self._max_answer, max_queued=max_queued)

    def close(self) -> None:
        """Closes every connection; calls in flight fail with reason ``closed``."""
        self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(socket_path={self.socket_path!r}, pool_size={self._pool.size})"


class ResolveClient(ResolveMethods, _Client):
    """The resolve socket, for executors, export jobs and webhook receivers: :meth:`resolve`, :meth:`report`,
    :meth:`verify_event`, :meth:`watch`, :meth:`health`, :meth:`providers_list`, :meth:`call`.

    ``grant``: the execution grant used when a call names none (never shown by ``repr`` nor ``vars(client)``:
    it is held in a wrapper whose ``repr`` is ``<redacted>``).
    """

    _env = transport.RESOLVE_SOCKET_ENV
    _default_path = transport.DEFAULT_RESOLVE_SOCKET
    _default_max_frame = transport.RESOLVE_MAX_FRAME_BYTES

    def __init__(self, socket_path: Optional[str] = None, *, grant: Any = None, **options: Any) -> None:
        super().__init__(socket_path, **options)
        self._grant = secret(grant_text(grant))  # a Secret: vars(client) and repr show no grant

    def watch(self, grant: Any = None, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
              timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT,
              max_queued: int = WATCH_MAX_QUEUED) -> "Watch":
        """Events in the grant's scope (its workspace and providers), on a connection of their own: iterate
        the returned :class:`Watch`. ``since``: an event number to start after (default: from now).
        ``max_queued``: events held unread before the watch ends as ``"overflow"``."""
        return self._open_watch(self._watch_params(grant, since, workspace_id), timeout, idle_timeout, max_queued)


class AdminClient(AdminMethods, _Client):
    """The admin socket, for the control plane: a method per admin method (``connections_upsert``,
    ``policy_set``, ``grants_issue``, ``oauth_begin``, ``events_list``, ...), :meth:`watch` and :meth:`call`.

    ``actor``: the actor used when a call names none.
    """

    _env = transport.ADMIN_SOCKET_ENV
    _default_path = transport.DEFAULT_ADMIN_SOCKET
    _default_max_frame = None  # limits.maxFrameBytes is the operator's: let credsd judge

    def __init__(self, socket_path: Optional[str] = None, *, actor: Optional[str] = None, **options: Any) -> None:
        super().__init__(socket_path, **options)
        self._actor = actor

    def watch(self, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
              timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT,
              max_queued: int = WATCH_MAX_QUEUED) -> "Watch":
        """Every event (or one workspace's), on a connection of its own: iterate the returned :class:`Watch`."""
        return self._open_watch(self._watch_params(None, since, workspace_id), timeout, idle_timeout, max_queued)


_OVERFLOW: Dict[str, Any] = {"method": "<overflow>"}  # put in a watch's queue when it overflowed


class Watch:
    """A ``watch`` in progress. Iterating yields each event (a dict, as ``events.list`` shows it) and stops when
    credsd sends ``resync`` or the connection closes; :attr:`ended` then says which (``"resync"``,
    ``"closed"``, ``"idle"``: no heartbeat for ``idle_timeout`` seconds, ``"overflow"``: more than
    ``max_queued`` events came in unread, or ``"stopped"``: :meth:`close`). After a ``resync`` or an
    ``overflow``, catch up with ``events_list(since=watch.last_seq)`` and watch again. Every event received
    before an overflow is still yielded first, so ``last_seq`` is exact.
    """

    def __init__(self, path: str, params: Dict[str, Any], *, timeout: float, idle_timeout: float,
                 connect_timeout: float, max_frame_bytes: Optional[int],
                 max_answer_bytes: Optional[int] = transport.DEFAULT_MAX_ANSWER_BYTES,
                 max_queued: int = WATCH_MAX_QUEUED) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self._queue: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue()
        self.max_queued = max_queued
        self._overflowed = False
        self.idle_timeout = idle_timeout
        self.ended: Optional[str] = None
        #: ``seq`` of the last event yielded (``since`` for the next watch)
        self.last_seq: Optional[int] = params.get("since")
        #: the error credsd sent about the connection before closing it (a revoked peer uid), if any
        self.error: Optional[CredsdError] = None
        deadline = time.monotonic() + timeout
        try:
            self._connection = transport.Connection(path, connect_timeout=min(connect_timeout, timeout),
                                                    max_frame_bytes=max_frame_bytes,
                                                    max_answer_bytes=max_answer_bytes,
                                                    on_notification=self._receive)
        except OSError as error:
            raise transport.CredsdConnectionError(
                transport.UNAVAILABLE, f"could not connect to {path} ({error.strerror or type(error).__name__})",
                method="watch") from None
        try:
            future = self._connection.submit(transport.Request("watch", params, max_frame_bytes), timeout)
            future.result(timeout=max(deadline - time.monotonic(), 0.0) + 2.0)
        except transport._NotSent:
            self._connection.close()
            raise transport.CredsdConnectionError(transport.DISCONNECTED, "the connection closed", method="watch")
        except concurrent.futures.TimeoutError:
            self._connection.close()
            raise CredsdTimeout(TIMEOUT, "no answer within the call's timeout", method="watch") from None
        except BaseException:
            self._connection.close()
            raise
        self._last_frame = time.monotonic()

    def _receive(self, message: Optional[Dict[str, Any]]) -> None:
        """On the reader thread: queues a notification, or ends the watch once ``max_queued`` wait unread."""
        if message is None:
            self._queue.put(None)  # the close: always queued (once), so the reader ends
            return
        if self._overflowed:
            return
        if self._queue.qsize() >= self.max_queued:
            self._overflowed = True
            self._queue.put(_OVERFLOW)
            connection = getattr(self, "_connection", None)
            if connection is not None:
                connection.close()  # credsd stops sending; None follows in the queue
            return
        self._queue.put(message)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return self

    def __next__(self) -> Dict[str, Any]:
        event = self.next_event()
        if event is None:
            raise StopIteration
        return event

    def next_event(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The next event; ``None`` once the watch has ended. With ``timeout``, raises :class:`CredsdTimeout`
        when no event came within it (the watch goes on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.ended is None:
            wait = self._last_frame + self.idle_timeout - time.monotonic()
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            try:
                message = self._queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                if time.monotonic() >= self._last_frame + self.idle_timeout:
                    self._end("idle")
                    break
                raise CredsdTimeout(TIMEOUT, "no event within the timeout", method="watch") from None
            self._last_frame = time.monotonic()
            if message is None:
                self.error = self._connection.connection_error
                self._end("closed")
                break
            if message is _OVERFLOW:
                self._end("overflow")
                break
            kind = message.get("method")
            if kind == "event" and isinstance(message.get("params"), dict):
                event = message["params"]
                if isinstance(event.get("seq"), int):
                    self.last_seq = event["seq"]
                return event
            if kind == "resync":
                self._end("resync")
                break
            # heartbeat (or a notification this client does not know): only proof of life
        return None

    def _end(self, why: str) -> None:
        if self.ended is None:
            self.ended = why
        self._connection.close()

    def close(self) -> None:
        """Stops watching and closes the connection."""
        self._end("stopped")

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Watch(ended={self.ended!r}, last_seq={self.last_seq!r})"
