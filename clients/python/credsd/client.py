"""The synchronous clients: :class:`ResolveClient` and :class:`AdminClient`, and :class:`Watch`."""

import concurrent.futures
import queue
import time
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

from . import _transport as transport
from ._core import (  # noqa: F401 (DEFAULT_TIMEOUT and the watch's defaults are this module's names too)
    DEFAULT_TIMEOUT,
    WATCH_IDLE_TIMEOUT,
    WATCH_MAX_QUEUED,
    ClientCore,
    WatchCore,
    call_timeout,
    watch_closed,
    watch_unreachable,
)
from ._methods import AdminMethods, ResolveMethods
from .errors import TIMEOUT, CredsdError, CredsdTimeout  # noqa: F401


class _Client(ClientCore):
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
        self._configure(socket_path, timeout, connect_timeout, max_frame_bytes, max_answer_bytes)
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

    def watch(self, since: Optional[int] = None, workspace_id: Optional[str] = None, *,
              timeout: Optional[float] = None, idle_timeout: float = WATCH_IDLE_TIMEOUT,
              max_queued: int = WATCH_MAX_QUEUED) -> "Watch":
        """Every event (or one workspace's), on a connection of its own: iterate the returned :class:`Watch`."""
        return self._open_watch(self._watch_params(None, since, workspace_id), timeout, idle_timeout, max_queued)


class Watch(WatchCore):
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
        queue_: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue()
        self._init_watch(queue_, idle_timeout, params.get("since"), max_queued)
        deadline = time.monotonic() + timeout
        try:
            self._connection = transport.Connection(path, connect_timeout=min(connect_timeout, timeout),
                                                    max_frame_bytes=max_frame_bytes,
                                                    max_answer_bytes=max_answer_bytes,
                                                    on_notification=self._receive)
        except OSError as error:
            raise watch_unreachable(path, error) from None
        try:
            future = self._connection.submit(transport.Request("watch", params, max_frame_bytes), timeout)
            future.result(timeout=max(deadline - time.monotonic(), 0.0) + 2.0)
        except transport._NotSent:
            self._connection.close()
            raise watch_closed()
        except concurrent.futures.TimeoutError:
            self._connection.close()
            raise call_timeout("watch") from None
        except BaseException:
            self._connection.close()
            raise
        self._last_frame = time.monotonic()

    def _stop_overflowing(self, connection: "transport.Connection", why: str) -> None:
        connection.close()  # on the reader thread

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
        deadline = self._deadline(timeout)
        while self.ended is None:
            try:
                message = self._queue.get(timeout=self._wait(deadline))
            except queue.Empty:
                self._nothing_came()
                self._end("idle")
                break
            event, end = self._read(message)
            if end is not None:
                self._end(end)
                break
            if event is not None:
                return event
        return None

    def _end(self, why: str) -> None:
        self._ending(why)
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
