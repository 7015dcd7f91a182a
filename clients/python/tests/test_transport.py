"""Framing, pipelining, timeouts, reconnects and error mapping against tiny Unix socket servers of our own that
misbehave on purpose (split frames, answers out of order, no answers, garbage, closes)."""

import asyncio
import os
import socket
import threading
import time
import unittest

import credsd
from credsd import errors
from credsd._transport import FrameReader, encode_frame

from .support import LogCapture, UnixServer, frame, read_frame, strings_reachable, wait_for
from .test_errors_table import table_of_errors_md


def json_bytes(message):
    return frame(message)[4:]


def echo_result(request):
    return {"jsonrpc": "2.0", "id": request["id"], "result": {"method": request["method"],
                                                             "params": request.get("params")}}


def mute(conn):
    """Reads nothing, answers nothing."""
    threading.Event().wait(30)


def byte_by_byte_server(conn):
    """Answers each request one byte per write, with a pause between bytes."""
    while True:
        request = read_frame(conn)
        if request is None:
            return
        for byte in frame(echo_result(request)):
            conn.sendall(bytes([byte]))
            time.sleep(0.0005)


def reversing_server(batch):
    """Reads ``batch`` requests, then answers them last first, all in one write."""
    def handler(conn):
        while True:
            requests = []
            while len(requests) < batch:
                request = read_frame(conn)
                if request is None:
                    return
                requests.append(request)
            conn.sendall(b"".join(frame(echo_result(r)) for r in reversed(requests)))
    return handler


class Gate:
    """A server that answers ``health`` at once, keeps ``slow`` calls unanswered until released, and answers
    ``error`` calls with the error named by their params."""

    def __init__(self):
        self.held = []
        self.release = threading.Event()
        self.received = []

    def __call__(self, conn):
        lock = threading.Lock()

        def send(message):
            with lock:
                conn.sendall(frame(message))

        while True:
            request = read_frame(conn)
            if request is None:
                return
            self.received.append(request)
            method = request["method"]
            if method == "slow":
                self.held.append(request)
                if self.release.is_set():
                    for held in self.held:
                        send(echo_result(held))
            elif method == "error":
                reason = request["params"]["reason"]
                data = dict(request["params"].get("data") or {}, reason=reason)
                send({"jsonrpc": "2.0", "id": request["id"],
                      "error": {"code": request["params"]["code"], "message": request["params"]["message"],
                                "data": data}})
            else:
                send(echo_result(request))


class FramingTests(unittest.TestCase):
    def test_frame_reader_takes_frames_one_byte_at_a_time_and_many_at_once(self):
        frames = [frame({"jsonrpc": "2.0", "id": i, "result": {"n": "x" * i}}) for i in range(50)]
        stream = b"".join(frames) + frame({"jsonrpc": "2.0", "id": 99, "result": {}})[:-1]
        reader = FrameReader()
        out = []
        for byte in stream:
            out += reader.feed(bytes([byte]))
        self.assertEqual([f for f in out], [f[4:] for f in frames])
        reader = FrameReader()
        self.assertEqual(reader.feed(stream), [f[4:] for f in frames])
        self.assertEqual(reader.feed(b"}"), [b'{"jsonrpc": "2.0", "id": 99, "result": {}}'])

    def test_frame_reader_refuses_a_frame_over_its_limit_as_soon_as_the_length_is_read(self):
        reader = FrameReader(1000)
        small = {"id": 1, "result": "x" * 900}
        self.assertEqual(reader.feed(frame(small)), [json_bytes(small)])
        with self.assertRaises(credsd.CredsdConnectionError) as caught:
            reader.feed(b"\xff\xff\xff\xff")
        self.assertEqual(caught.exception.reason, errors.PROTOCOL_ERROR)
        self.assertIn("4294967295", caught.exception.message)

    def test_an_answer_over_the_limit_is_a_protocol_error_and_closes_the_connection(self):
        def huge(conn):
            while True:
                request = read_frame(conn)
                if request is None:
                    return
                if request["method"] == "small":
                    conn.sendall(frame({"jsonrpc": "2.0", "id": request["id"], "result": "y" * 2000}))
                else:
                    conn.sendall(b"\xff\xff\xff\xff" + b"x" * 1000)  # 4 GiB announced, then nothing

        server = UnixServer(huge)
        self.addCleanup(server.close)
        with credsd.ResolveClient(server.path) as client:
            started = time.monotonic()
            with self.assertRaises(credsd.CredsdConnectionError) as caught:
                client.health(timeout=3)
            self.assertEqual(caught.exception.reason, errors.PROTOCOL_ERROR)
            self.assertLess(time.monotonic() - started, 2)
            wait_for(lambda: not client._pool.connections()[0].alive, what="the connection to close")
            self.assertEqual(len(client.call("small", timeout=3)), 2000)  # under the default 64 MiB
        with credsd.AdminClient(server.path, max_answer_bytes=1000) as client:
            with self.assertRaises(credsd.CredsdConnectionError) as caught:
                client.call("small", timeout=3)
            self.assertEqual(caught.exception.reason, errors.PROTOCOL_ERROR)

        async def run():
            async with credsd.AsyncResolveClient(server.path) as client:
                with self.assertRaises(credsd.CredsdConnectionError) as caught:
                    await client.health(timeout=3)
                self.assertEqual(caught.exception.reason, errors.PROTOCOL_ERROR)
                self.assertFalse(client._slots[0].connection.alive)
                self.assertEqual(len(await client.call("small", timeout=3)), 2000)
            async with credsd.AsyncAdminClient(server.path, max_answer_bytes=1000) as client:
                with self.assertRaises(credsd.CredsdConnectionError) as caught:
                    await client.call("small", timeout=3)
                self.assertEqual(caught.exception.reason, errors.PROTOCOL_ERROR)

        started = time.monotonic()
        asyncio.run(run())
        self.assertLess(time.monotonic() - started, 4)

    def test_an_answer_with_a_boolean_id_settles_no_call(self):
        def forger(conn):
            while True:
                request = read_frame(conn)
                if request is None:
                    return
                for forged_id in (True, False, 1.0):
                    conn.sendall(frame({"jsonrpc": "2.0", "id": forged_id, "result": "forged"}))
                conn.sendall(frame(echo_result(request)))

        server = UnixServer(forger)
        self.addCleanup(server.close)
        with credsd.ResolveClient(server.path) as client:
            self.assertEqual(client.call("health", timeout=5), {"method": "health", "params": {}})

        async def run():
            async with credsd.AsyncResolveClient(server.path) as client:
                return await client.call("health", timeout=5)

        self.assertEqual(asyncio.run(run()), {"method": "health", "params": {}})

    def test_answers_split_into_single_bytes(self):
        server = UnixServer(byte_by_byte_server)
        self.addCleanup(server.close)
        with credsd.ResolveClient(server.path, timeout=20) as client:
            for i in range(3):
                self.assertEqual(client.call("health", {"n": i}), {"method": "health", "params": {"n": i}})
            # several calls in flight at once, every answer trickling in byte by byte
            futures = [client.submit("m", {"i": i}) for i in range(5)]
            self.assertEqual([f.result(20)["params"]["i"] for f in futures], list(range(5)))
        self.assertEqual(server.accepted, 1)

    def test_requests_are_framed_as_the_protocol_says(self):
        data = encode_frame(7, "resolve", {"workspaceId": "ws1"}, 65536)
        self.assertEqual(int.from_bytes(data[:4], "big"), len(data) - 4)
        self.assertEqual(data[4:], b'{"jsonrpc":"2.0","id":7,"method":"resolve","params":{"workspaceId":"ws1"}}')

    def test_a_request_over_the_limit_is_refused_before_it_is_sent(self):
        gate = Gate()
        server = UnixServer(gate)
        self.addCleanup(server.close)
        with credsd.ResolveClient(server.path) as client:
            with self.assertRaises(credsd.CredsdError) as caught:
                client.resolve("ws1", "fal", required_scopes=["s" * 70000])
            self.assertEqual(caught.exception.reason, errors.FRAME_TOO_LARGE)
            self.assertEqual(caught.exception.code, -32001)
            self.assertEqual(caught.exception.data["limit"], 65536)
            self.assertEqual(gate.received, [])

    def test_params_that_cannot_be_json_are_refused_locally(self):
        with credsd.ResolveClient("/nonexistent/credsd.sock") as client:
            for bad in ({"x": float("nan")}, {"x": object()}, {"x": "\ud800"}):
                with self.assertRaises(credsd.CredsdError) as caught:
                    client.call("health", bad, timeout=5)
                self.assertEqual(caught.exception.reason, errors.INVALID_PARAMS)


class PipeliningTests(unittest.TestCase):
    def test_1000_answers_out_of_order_on_one_connection(self):
        server = UnixServer(reversing_server(1000))
        self.addCleanup(server.close)
        arrival = []
        with credsd.ResolveClient(server.path, timeout=30) as client:
            futures = []
            for i in range(1000):
                future = client.submit("resolve", {"workspaceId": f"ws{i}", "provider": "fal"})
                future.add_done_callback(lambda f, i=i: arrival.append(i))
                futures.append(future)
            for i, future in enumerate(futures):
                self.assertEqual(future.result(30)["params"]["workspaceId"], f"ws{i}")
        self.assertEqual(arrival, list(range(999, -1, -1)))
        self.assertEqual(server.accepted, 1)

    def test_threads_share_one_pipelined_connection(self):
        server = UnixServer(reversing_server(8))
        self.addCleanup(server.close)
        results = {}
        with credsd.ResolveClient(server.path, timeout=30) as client:
            def work(t):
                results[t] = [client.call("m", {"t": t, "k": k})["params"] for k in range(25)]
            threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        self.assertEqual(results, {t: [{"t": t, "k": k} for k in range(25)] for t in range(8)})
        self.assertEqual(server.accepted, 1)

    def test_a_pool_spreads_calls_over_its_connections(self):
        gate = Gate()
        server = UnixServer(gate)
        self.addCleanup(server.close)
        with credsd.AdminClient(server.path, pool_size=4) as client:
            for i in range(40):
                self.assertEqual(client.call("health", {"i": i})["params"], {"i": i})
            connections = client._pool.connections()
            self.assertEqual(len({id(c) for c in connections}), 4)
            self.assertTrue(all(c.alive for c in connections))
        self.assertEqual(server.accepted, 4)


class TimeoutTests(unittest.TestCase):
    def test_a_call_that_gets_no_answer_times_out_and_the_connection_goes_on(self):
        gate = Gate()
        server = UnixServer(gate)
        self.addCleanup(server.close)
        with credsd.ResolveClient(server.path, timeout=10) as client:
            started = time.monotonic()
            with self.assertRaises(credsd.CredsdTimeout) as caught:
                client.call("slow", {"n": 1}, timeout=0.3)
            elapsed = time.monotonic() - started
            self.assertGreaterEqual(elapsed, 0.29)
            self.assertLess(elapsed, 5)
            self.assertEqual(caught.exception.reason, errors.TIMEOUT)
            self.assertIsNone(caught.exception.code)
            self.assertIsInstance(caught.exception, TimeoutError)
            self.assertTrue(caught.exception.retryable)
            # a submitted call times out on its own too (the reader expires it)
            future = client.submit("slow", {"n": 2}, timeout=0.2)
            with self.assertRaises(credsd.CredsdTimeout):
                future.result(10)
            # the same connection still answers; the late answers, when they come, are dropped
            self.assertEqual(client.health(), {"method": "health", "params": {}})
            gate.release.set()
            future = client.submit("slow", {"n": 3})
            self.assertEqual(future.result(10)["params"], {"n": 3})
            self.assertEqual(client.health()["method"], "health")
            self.assertEqual(server.accepted, 1)
            self.assertEqual(client._pool.connections()[0].pending, 0)

    def test_a_daemon_that_never_answers_nor_reads(self):
        accepted = threading.Event()

        def mute(conn):
            accepted.set()
            threading.Event().wait(30)  # reads nothing, answers nothing

        server = UnixServer(mute)
        self.addCleanup(server.close)
        with credsd.AdminClient(server.path) as client:
            started = time.monotonic()
            # far more than the socket buffers hold: the send itself must give up at the deadline
            with self.assertRaises(credsd.CredsdTimeout):
                client.call("keys.status", {"padding": "x" * (8 << 20)}, timeout=0.5)
            self.assertLess(time.monotonic() - started, 5)

    def test_a_call_behind_another_threads_large_write_keeps_its_own_timeout(self):
        server = UnixServer(mute)
        self.addCleanup(server.close)
        outcome = {}
        with credsd.AdminClient(server.path) as client:
            def large():
                try:
                    client.call("keys.status", {"padding": "x" * (8 << 20)}, timeout=2.5)
                except credsd.CredsdError as error:
                    outcome["large"] = error

            thread = threading.Thread(target=large)
            thread.start()
            self.addCleanup(thread.join, 10)

            def sending():
                connection = client._pool.connections()[0]
                return connection is not None and connection._send_lock.locked()

            wait_for(sending, what="the large write to be under way")
            started = time.monotonic()
            with self.assertRaises(credsd.CredsdTimeout) as caught:
                client.health(timeout=0.2)  # the same connection (a pool of one), its writer busy
            self.assertLess(time.monotonic() - started, 1.0)
            self.assertEqual(caught.exception.reason, errors.TIMEOUT)
            thread.join(10)
        self.assertEqual(outcome["large"].reason, errors.TIMEOUT)

    def test_async_writes_to_a_daemon_that_does_not_read_stay_bounded(self):
        server = UnixServer(mute)
        self.addCleanup(server.close)

        async def run():
            async with credsd.AsyncAdminClient(server.path) as client:
                calls = [asyncio.ensure_future(client.call("m", {"i": i, "padding": "x" * (1 << 20)}, timeout=0.6))
                         for i in range(16)]
                await asyncio.sleep(0.3)
                connection = client._slots[0].connection
                unsent = connection._writer.transport.get_write_buffer_size()
                results = await asyncio.gather(*calls, return_exceptions=True)
                return unsent, connection, results

        started = time.monotonic()
        unsent, connection, results = asyncio.run(run())
        self.assertLess(time.monotonic() - started, 5)
        # back-pressure: one 1 MiB frame at a time waits in the buffer, not all sixteen
        self.assertLess(unsent, 3 << 20)
        # the first call timed out with its frame unsent: the connection was closed, its buffer dropped
        self.assertFalse(connection.alive)
        self.assertEqual(connection._writer.transport.get_write_buffer_size(), 0)
        self.assertTrue(all(isinstance(r, credsd.CredsdError) for r in results), results)
        self.assertIsInstance(results[0], credsd.CredsdTimeout)

    def test_async_call_times_out(self):
        gate = Gate()
        server = UnixServer(gate)
        self.addCleanup(server.close)

        async def run():
            async with credsd.AsyncResolveClient(server.path) as client:
                with self.assertRaises(credsd.CredsdTimeout):
                    await client.call("slow", {}, timeout=0.2)
                self.assertEqual((await client.health())["method"], "health")
                answers = await asyncio.gather(*[client.call("m", {"i": i}) for i in range(200)])
                self.assertEqual([a["params"]["i"] for a in answers], list(range(200)))

        asyncio.run(run())
        self.assertEqual(server.accepted, 1)


class CloseTests(unittest.TestCase):
    def test_calls_in_flight_and_after_close_fail_as_closed(self):
        gate = Gate()
        server = UnixServer(gate)
        self.addCleanup(server.close)
        client = credsd.ResolveClient(server.path)
        future = client.submit("slow", {})
        wait_for(lambda: gate.held, what="the call to reach the server")
        client.close()
        with self.assertRaises(credsd.CredsdConnectionError) as caught:
            future.result(10)
        self.assertEqual(caught.exception.reason, errors.CLOSED)
        with self.assertRaises(credsd.CredsdConnectionError) as caught:
            client.health()
        self.assertEqual(caught.exception.reason, errors.CLOSED)

        async def run():
            async_client = credsd.AsyncResolveClient(server.path)
            self.assertEqual((await async_client.health())["method"], "health")
            await async_client.close()
            with self.assertRaises(credsd.CredsdConnectionError) as caught:
                await async_client.health()
            return caught.exception.reason

        self.assertEqual(asyncio.run(run()), errors.CLOSED)


class ErrorMappingTests(unittest.TestCase):
    def test_every_reason_of_errors_md_becomes_a_credsd_error(self):
        gate = Gate()
        server = UnixServer(gate)
        self.addCleanup(server.close)
        with credsd.ResolveClient(server.path) as client:
            for reason, code in table_of_errors_md():
                with self.subTest(reason=reason):
                    with self.assertRaises(credsd.CredsdError) as caught:
                        client.call("error", {"reason": reason, "code": code, "message": f"about {reason}",
                                              "data": {"retryAfterSeconds": 7}})
                    error = caught.exception
                    self.assertEqual((error.reason, error.code, error.message), (reason, code, f"about {reason}"))
                    self.assertEqual(error.data["retryAfterSeconds"], 7)
                    self.assertEqual(error.retry_after, 7.0)
                    self.assertEqual(error.method, "error")
                    self.assertEqual(error.retryable, reason in errors.RETRYABLE)
                    self.assertIn(reason, str(error))
                    self.assertNotIsInstance(error, credsd.CredsdConnectionError)
        self.assertEqual(server.accepted, 1)  # no error closes the connection

    def test_async_maps_errors_too(self):
        gate = Gate()
        server = UnixServer(gate)
        self.addCleanup(server.close)

        async def run():
            async with credsd.AsyncAdminClient(server.path) as client:
                with self.assertRaises(credsd.CredsdError) as caught:
                    await client.call("error", {"reason": "not_found", "code": -32004, "message": "m"})
                self.assertEqual((caught.exception.reason, caught.exception.code), ("not_found", -32004))

        asyncio.run(run())

    def test_secrets_sent_are_scrubbed_from_error_text(self):
        gate = Gate()
        server = UnixServer(gate)
        self.addCleanup(server.close)
        grant = "cg_" + "S" * 43
        with credsd.ResolveClient(server.path) as client:
            with self.assertRaises(credsd.CredsdError) as caught:
                client.call("error", {"reason": "forbidden", "code": -32003, "grant": grant,
                                      "message": f"a careless daemon echoing {grant}", "data": {"echo": grant}})
        text = str(caught.exception) + repr(caught.exception)
        self.assertNotIn(grant, text)
        self.assertIn("<redacted>", text)

    def test_an_error_about_the_connection_fails_the_calls_in_flight(self):
        def refuse(conn):
            read_frame(conn)
            conn.sendall(frame({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32002, "message": "too many connections", "data": {"reason": "overloaded"}}}))

        server = UnixServer(refuse)
        self.addCleanup(server.close)
        with credsd.ResolveClient(server.path) as client:
            for _ in range(3):
                with self.assertRaises(credsd.CredsdError) as caught:
                    client.health()
                self.assertEqual((caught.exception.reason, caught.exception.code), ("overloaded", -32002))
                self.assertTrue(caught.exception.retryable)

    def test_garbage_from_the_daemon_is_a_protocol_error_then_a_fresh_connection(self):
        calls = []

        def garbage_first(conn):
            request = read_frame(conn)
            calls.append(request)
            if len(calls) == 1:
                conn.sendall(b"\x00\x00\x00\x05hello")
                return
            conn.sendall(frame(echo_result(request)))
            while True:
                request = read_frame(conn)
                if request is None:
                    return
                conn.sendall(frame(echo_result(request)))

        server = UnixServer(garbage_first)
        self.addCleanup(server.close)
        with credsd.AdminClient(server.path) as client:
            with self.assertRaises(credsd.CredsdConnectionError) as caught:
                client.call("keys.rotate")
            self.assertEqual(caught.exception.reason, errors.PROTOCOL_ERROR)
            self.assertEqual(client.call("keys.rotate")["method"], "keys.rotate")
        self.assertEqual(server.accepted, 2)


class ReconnectTests(unittest.TestCase):
    def test_a_read_cut_off_by_a_closing_connection_is_sent_again(self):
        seen = []

        def close_on_first(conn):
            request = read_frame(conn)
            seen.append(request["method"])
            if len(seen) == 1:
                return  # closes without answering
            conn.sendall(frame(echo_result(request)))
            while True:
                request = read_frame(conn)
                if request is None:
                    return
                seen.append(request["method"])
                if len(seen) == 3:
                    return
                conn.sendall(frame(echo_result(request)))

        server = UnixServer(close_on_first)
        self.addCleanup(server.close)
        with credsd.AdminClient(server.path) as client:
            self.assertEqual(client.health()["method"], "health")  # sent twice, answered once
            # a write cut off is not repeated: it may have been carried out
            with self.assertRaises(credsd.CredsdConnectionError) as caught:
                client.members_set("ws1", "bob", "read")
            self.assertEqual(caught.exception.reason, errors.DISCONNECTED)
        self.assertEqual(seen, ["health", "health", "members.set"])

    def test_a_resolve_cut_off_is_not_sent_again(self):
        seen = []

        def close_on_first(conn):
            while True:
                request = read_frame(conn)
                if request is None:
                    return
                seen.append(request["method"])
                if len(seen) in (1, 3):
                    return  # closes without answering
                conn.sendall(frame(echo_result(request)))

        server = UnixServer(close_on_first)
        self.addCleanup(server.close)
        with credsd.ResolveClient(server.path, grant="cg_" + "r" * 43) as client:
            # it counts against budgets: sent again, it could count twice
            with self.assertRaises(credsd.CredsdConnectionError) as caught:
                client.resolve("ws1", "fal")
            self.assertEqual(caught.exception.reason, errors.DISCONNECTED)
            self.assertEqual(client.health()["method"], "health")

        async def run():
            async with credsd.AsyncResolveClient(server.path, grant="cg_" + "r" * 43) as client:
                with self.assertRaises(credsd.CredsdConnectionError) as caught:
                    await client.resolve("ws1", "fal")
                return caught.exception.reason

        self.assertEqual(asyncio.run(run()), errors.DISCONNECTED)
        self.assertEqual(seen, ["resolve", "health", "resolve"])
        self.assertNotIn("resolve", credsd._transport.SAFE_TO_REPEAT)

    def test_no_daemon_is_unavailable_after_backoff_until_the_deadline(self):
        missing = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no-such-dir", "credsd.sock")
        with LogCapture() as logs, credsd.ResolveClient(missing, reconnect_backoff=(0.01, 0.05)) as client:
            started = time.monotonic()
            with self.assertRaises(credsd.CredsdConnectionError) as caught:
                client.health(timeout=0.5)
            self.assertGreaterEqual(time.monotonic() - started, 0.4)
            self.assertEqual(caught.exception.reason, errors.UNAVAILABLE)
            self.assertIn(missing, str(caught.exception))
            self.assertGreater(client._pool._backoffs[0].failures, 3)
        self.assertTrue(any("cannot connect" in line for line in logs.lines))

    def test_async_pool_short_call_does_not_wait_out_another_calls_reconnect(self):
        # One slot, no daemon: a long call backs off inside the slot's lock; a short call behind it gives up at
        # its own deadline (it waited the long call's whole backoff before).
        missing = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no-such-dir", "credsd.sock")

        async def run():
            async with credsd.AsyncResolveClient(missing, reconnect_backoff=(1.0, 4.0)) as client:
                long_call = asyncio.ensure_future(client.health(timeout=8))
                await asyncio.sleep(0.05)
                started = time.monotonic()
                with self.assertRaises(credsd.CredsdConnectionError) as caught:
                    await client.health(timeout=0.3)
                waited = time.monotonic() - started
                long_call.cancel()
                with self.assertRaises((asyncio.CancelledError, credsd.CredsdConnectionError)):
                    await long_call
                return caught.exception.reason, waited

        reason, waited = asyncio.run(run())
        self.assertEqual(reason, errors.UNAVAILABLE)
        self.assertLess(waited, 3.0)

    def test_the_server_coming_back_is_found_again(self):
        directory_server = UnixServer(Gate())
        path = directory_server.path
        with credsd.ResolveClient(path, reconnect_backoff=(0.01, 0.1)) as client:
            self.assertEqual(client.health()["method"], "health")
            directory_server.closed = True
            directory_server.sock.close()
            for conn in directory_server.connections:
                conn.shutdown(socket.SHUT_RDWR)
            os.unlink(path)
            wait_for(lambda: not client._pool.connections()[0].alive, what="the client to see the close")
            result = {}

            def call():
                try:
                    result["answer"] = client.health(timeout=20)
                except Exception as error:  # reported below
                    result["error"] = error

            thread = threading.Thread(target=call)
            thread.start()
            wait_for(lambda: client._pool._backoffs[0].failures >= 2, what="failed connects")
            again = socket.socket(socket.AF_UNIX)
            again.bind(path)
            again.listen(8)
            conn, _ = again.accept()
            request = read_frame(conn)
            conn.sendall(frame(echo_result(request)))
            thread.join(20)
            self.assertEqual(result.get("answer"), {"method": "health", "params": {}}, result.get("error"))
            conn.close()
            again.close()
        directory_server.close()


class WatchFakeTests(unittest.TestCase):
    def watch_server(self, then):
        def handler(conn):
            request = read_frame(conn)
            assert request["method"] == "watch", request
            conn.sendall(frame({"jsonrpc": "2.0", "id": request["id"], "result": {}}))
            conn.sendall(frame({"jsonrpc": "2.0", "method": "event", "params": {"seq": 5, "type": "a"}}))
            conn.sendall(frame({"jsonrpc": "2.0", "method": "heartbeat"}))
            conn.sendall(frame({"jsonrpc": "2.0", "method": "event", "params": {"seq": 6, "type": "b"}}))
            then(conn)
        server = UnixServer(handler)
        self.addCleanup(server.close)
        return server

    def test_watch_ends_on_resync(self):
        def resync(conn):
            conn.sendall(frame({"jsonrpc": "2.0", "method": "resync"}))
            threading.Event().wait(10)

        server = self.watch_server(resync)
        grant = "cg_" + "g" * 43
        with credsd.ResolveClient(server.path, grant=grant) as client:
            with client.watch(since=4) as watch:
                # the grant was sent (with the client's default), yet neither object shows or keeps it
                for thing in (client, watch, watch._connection):
                    for text in (repr(thing), str(thing), repr(vars(thing))):
                        self.assertNotIn(grant, text)
                    self.assertFalse(any(grant in text for text in strings_reachable(thing)), thing)
                self.assertEqual([e["seq"] for e in watch], [5, 6])
                self.assertEqual((watch.ended, watch.last_seq), ("resync", 6))

    def test_watch_ends_when_the_connection_closes(self):
        server = self.watch_server(lambda conn: None)
        with credsd.AdminClient(server.path) as client:
            watch = client.watch()
            self.assertEqual([e["type"] for e in watch], ["a", "b"])
            self.assertEqual(watch.ended, "closed")
            self.assertIsNone(watch.next_event())

    def test_watch_without_heartbeats_ends_as_idle(self):
        server = self.watch_server(lambda conn: threading.Event().wait(10))
        with credsd.AdminClient(server.path) as client:
            watch = client.watch(idle_timeout=0.3)
            self.assertEqual(len(list(watch)), 2)
            self.assertEqual(watch.ended, "idle")

    def test_async_watch_ends_on_resync(self):
        def resync(conn):
            conn.sendall(frame({"jsonrpc": "2.0", "method": "resync"}))
            threading.Event().wait(10)

        server = self.watch_server(resync)

        async def run():
            client = credsd.AsyncResolveClient(server.path)
            async with await client.watch(since=4) as watch:
                seqs = [event["seq"] async for event in watch]
            await client.close()
            return seqs, watch.ended

        self.assertEqual(asyncio.run(run()), ([5, 6], "resync"))

    def flood_server(self, count):
        """Answers the watch, then sends ``count`` events at once and waits."""
        def handler(conn):
            request = read_frame(conn)
            conn.sendall(frame({"jsonrpc": "2.0", "id": request["id"], "result": {}}))
            conn.sendall(b"".join(frame({"jsonrpc": "2.0", "method": "event", "params": {"seq": seq, "type": "x"}})
                                  for seq in range(1, count + 1)))
            threading.Event().wait(10)
        server = UnixServer(handler)
        self.addCleanup(server.close)
        return server

    def test_a_watch_read_too_slowly_ends_as_overflow(self):
        self.assertEqual(credsd.client.WATCH_MAX_QUEUED, 10000)
        server = self.flood_server(50)
        with credsd.AdminClient(server.path) as client:
            watch = client.watch(max_queued=10)
            wait_for(lambda: watch._queue.qsize() > 10, what="the events to come in")
            time.sleep(0.1)
            self.assertLessEqual(watch._queue.qsize(), 12)  # 10 events, the overflow, the close
            self.assertEqual([e["seq"] for e in watch], list(range(1, 11)))
            # every event received before the overflow is yielded: events_list(since=10) catches up exactly
            self.assertEqual((watch.ended, watch.last_seq), ("overflow", 10))
            self.assertFalse(watch._connection.alive)
            self.assertIsNone(watch.next_event())

    def test_an_async_watch_read_too_slowly_ends_as_overflow(self):
        server = self.flood_server(50)

        async def run():
            client = credsd.AsyncAdminClient(server.path)
            watch = await client.watch(max_queued=10)
            deadline = time.monotonic() + 10
            while watch._queue.qsize() <= 10 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            queued = watch._queue.qsize()
            seqs = [event["seq"] async for event in watch]
            alive = watch._connection.alive
            await client.close()
            return queued, seqs, watch.ended, watch.last_seq, alive

        queued, seqs, ended, last_seq, alive = asyncio.run(run())
        self.assertLessEqual(queued, 12)
        self.assertEqual(seqs, list(range(1, 11)))
        self.assertEqual((ended, last_seq, alive), ("overflow", 10, False))


if __name__ == "__main__":
    unittest.main()
