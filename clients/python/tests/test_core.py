"""The sans-I/O core (``credsd._core``) on its own: no socket, no thread, no event loop."""

import json
import queue
import time
import unittest

from credsd import _core as core
from credsd import errors

GRANT = "cg_" + "s" * 43


def frame_of(message):
    return json.dumps(message).encode()


class _Table(core.CallTable):
    """A CallTable whose futures are plain lists: ``["result", value]`` or ``["error", exception]``."""

    def __init__(self):
        self.notifications = []
        self._init_calls("/test.sock", self.notifications.append)

    def add(self, method, params=None):
        request = core.Request(method, params or {}, None)
        request_id = next(self._ids)
        future = []
        self._pending[request_id] = (future, request.method, request.secrets)
        return request_id, future

    def _take(self, request_id):
        return self._pending.pop(request_id, None)

    def _settle(self, future, result=None, error=None):
        if not future:
            future.extend(["error", error] if error is not None else ["result", result])


class CallTableTests(unittest.TestCase):
    def test_answers_match_calls_by_integer_id_only(self):
        table = _Table()
        first, future = table.add("health")
        self.assertEqual(first, 1)
        for wrong in (True, 1.0, "1", [1]):
            table._dispatch(frame_of({"jsonrpc": "2.0", "id": wrong, "result": {"forged": True}}))
        self.assertEqual(future, [])  # `true` is an int to Python, never call 1 to JSON-RPC
        table._dispatch(frame_of({"jsonrpc": "2.0", "id": 1, "result": {"status": "ok"}}))
        self.assertEqual(future, ["result", {"status": "ok"}])
        self.assertEqual(table._pending, {})

    def test_an_error_answer_is_a_credsd_error_without_the_secrets_sent(self):
        table = _Table()
        _, future = table.add("resolve", {"grant": GRANT})
        table._dispatch(frame_of({"jsonrpc": "2.0", "id": 1, "error": {
            "code": -32041, "message": f"bad grant {GRANT}", "data": {"reason": "grant_invalid", "echo": GRANT}}}))
        kind, error = future
        self.assertEqual(kind, "error")
        self.assertIsInstance(error, errors.CredsdError)
        self.assertEqual((error.reason, error.code, error.method), ("grant_invalid", -32041, "resolve"))
        for text in (str(error), repr(error), error.message, json.dumps(error.data)):
            self.assertNotIn(GRANT, text)

    def test_an_answer_without_result_or_error_is_a_protocol_error(self):
        table = _Table()
        _, future = table.add("health")
        table._dispatch(frame_of({"jsonrpc": "2.0", "id": 1}))
        self.assertEqual(future[1].reason, errors.PROTOCOL_ERROR)

    def test_notifications_and_errors_about_the_connection(self):
        table = _Table()
        _, future = table.add("stats")
        table._dispatch(frame_of({"jsonrpc": "2.0", "method": "heartbeat"}))
        self.assertEqual(table.notifications, [{"jsonrpc": "2.0", "method": "heartbeat"}])
        table._dispatch(frame_of({"jsonrpc": "2.0", "id": None, "error": {
            "code": -32010, "message": "too many connections", "data": {"reason": "overloaded"}}}))
        self.assertEqual(table.connection_error.reason, "overloaded")
        table._fail_calls(list(table._pending.values()), "the daemon closed the connection", False)
        self.assertEqual(future[1].reason, "overloaded")  # what credsd said, not a bare disconnect

    def test_calls_in_flight_when_the_connection_ends(self):
        for closing_by_us, reason in ((True, errors.CLOSED), (False, errors.DISCONNECTED)):
            table = _Table()
            _, future = table.add("connections.upsert")
            table._fail_calls(list(table._pending.values()), "the daemon closed the connection", closing_by_us)
            self.assertEqual(future[1].reason, reason)
            self.assertIsInstance(future[1], errors.CredsdConnectionError)

    def test_frames_that_are_not_json_objects(self):
        table = _Table()
        for frame in (b"not json", b"[1, 2]"):
            with self.assertRaises(errors.CredsdConnectionError) as caught:
                table._dispatch(frame)
            self.assertEqual(caught.exception.reason, errors.PROTOCOL_ERROR)
        self.assertEqual(table._reading_failed(caught.exception), caught.exception.message)
        self.assertEqual(table._failure_reason, errors.PROTOCOL_ERROR)


class AttemptTests(unittest.TestCase):
    def disconnected(self, method):
        return errors.CredsdConnectionError(errors.DISCONNECTED, "gone", method=method)

    def test_reads_are_sent_again_once(self):
        attempt = core.Attempt("connections.list", {"workspaceId": "w"}, None, 5.0)
        self.assertTrue(attempt.may_resend(self.disconnected("connections.list")))
        self.assertFalse(attempt.may_resend(self.disconnected("connections.list")))

    def test_writes_and_resolve_are_never_sent_again(self):
        for method in ("resolve", "resolve.report", "connections.upsert", "grants.issue", "keys.rotate"):
            attempt = core.Attempt(method, {}, None, 5.0)
            self.assertFalse(attempt.may_resend(self.disconnected(method)), method)

    def test_only_a_disconnect_before_the_deadline(self):
        attempt = core.Attempt("health", {}, None, 5.0)
        self.assertFalse(attempt.may_resend(errors.CredsdConnectionError(errors.CLOSED, "closed")))
        late = core.Attempt("health", {}, None, -1.0)
        self.assertFalse(late.may_resend(self.disconnected("health")))

    def test_a_try_not_sent(self):
        attempt = core.Attempt("health", {}, None, 5.0)
        self.assertIsNone(attempt.not_sent())  # before the deadline: try again
        refusal = errors.CredsdError("overloaded", "busy")
        with self.assertRaises(errors.CredsdError) as caught:
            attempt.not_sent(refusal)
        self.assertIs(caught.exception, refusal)
        self.assertEqual(refusal.method, "health")
        with self.assertRaises(errors.CredsdTimeout):
            core.Attempt("health", {}, None, -1.0).not_sent()

    def test_params_that_cannot_be_sent_fail_before_any_try(self):
        with self.assertRaises(errors.CredsdError) as caught:
            core.Attempt("resolve", {"grant": GRANT, "x": float("nan")}, None, 5.0)
        self.assertEqual(caught.exception.reason, errors.INVALID_PARAMS)
        with self.assertRaises(errors.CredsdError) as caught:
            core.Attempt("resolve", {"grant": GRANT, "x": "y" * 100}, 64, 5.0)
        self.assertEqual(caught.exception.reason, errors.FRAME_TOO_LARGE)
        self.assertNotIn(GRANT, str(caught.exception) + repr(caught.exception))


class ConnectingTests(unittest.TestCase):
    def test_backoff_past_the_deadline_is_unavailable(self):
        backoff = core.Backoff(10.0, 10.0)
        tries = core.Connecting("/x.sock", backoff, time.monotonic() + 0.5, "health")
        self.assertEqual(tries.delay(), 0.0)
        tries.failed(FileNotFoundError(2, "No such file or directory"))
        self.assertEqual(backoff.failures, 1)
        with self.assertRaises(errors.CredsdConnectionError) as caught:
            tries.delay()
        self.assertEqual(caught.exception.reason, errors.UNAVAILABLE)
        self.assertIn("No such file or directory", caught.exception.message)
        tries.succeeded()
        self.assertEqual((backoff.failures, backoff.next_attempt), (0, 0.0))

    def test_a_failure_past_the_deadline_is_unavailable(self):
        tries = core.Connecting("/x.sock", core.Backoff(), time.monotonic() - 1, "health")
        with self.assertRaises(errors.CredsdConnectionError) as caught:
            tries.failed(TimeoutError())
        self.assertEqual(caught.exception.reason, errors.UNAVAILABLE)


class _Watch(core.WatchCore):
    def __init__(self, max_queued=3):
        self._init_watch(queue.Queue(), 60.0, 4, max_queued)
        self.stopped = []
        self._connection = None

    def _stop_overflowing(self, connection, why):
        self.stopped.append(why)


class WatchCoreTests(unittest.TestCase):
    def test_events_heartbeats_resync(self):
        watch = _Watch()
        self.assertEqual(watch._read({"method": "event", "params": {"seq": 5}}), ({"seq": 5}, None))
        self.assertEqual(watch.last_seq, 5)
        self.assertEqual(watch._read({"method": "heartbeat"}), (None, None))
        self.assertEqual(watch._read({"method": "event", "params": "not an object"}), (None, None))
        self.assertEqual(watch._read({"method": "resync"}), (None, "resync"))
        self.assertEqual(watch._read(None), (None, "closed"))
        self.assertEqual(watch.last_seq, 5)

    def test_the_buffer_is_bounded(self):
        watch = _Watch(max_queued=3)
        watch._connection = _Table()  # anything with a connection_error
        for seq in range(10):
            watch._receive({"method": "event", "params": {"seq": seq}})
        watch._receive(None)
        self.assertEqual(watch._queue.qsize(), 5)  # 3 events, the overflow, the close
        self.assertEqual(watch.stopped, ["the watch overflowed (3 events unread)"])
        reads = [watch._read(watch._queue.get_nowait()) for _ in range(5)]
        self.assertEqual([end for _, end in reads], [None, None, None, "overflow", "closed"])
        self.assertEqual(watch.last_seq, 2)

    def test_max_queued_at_least_one(self):
        with self.assertRaises(ValueError):
            _Watch(max_queued=0)

    def test_a_timeout_is_not_the_end_unless_idle(self):
        watch = _Watch()
        with self.assertRaises(errors.CredsdTimeout):
            watch._nothing_came()
        watch._last_frame -= watch.idle_timeout
        self.assertIsNone(watch._nothing_came())
        self.assertEqual(watch._wait(None), 0.0)
        watch._ending("idle")
        watch._ending("stopped")
        self.assertEqual(watch.ended, "idle")


if __name__ == "__main__":
    unittest.main()
