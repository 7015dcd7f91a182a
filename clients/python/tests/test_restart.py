"""A daemon of its own per test: restarts (the client reconnects, with backoff while it is down), a connection
limit (``overloaded``), and a master key taken away (``encryption_key_missing``, ``integrity_error``)."""

import asyncio
import threading
import unittest

import credsd
from credsd import errors

from .support import Daemon, LogCapture, raw_call, wait_for

FAL_KEY = "6f1c2a3b-2222-4222-8333-944455556666:fedcba9876543210fedcba9876543210"


class RestartTests(unittest.TestCase):
    def setUp(self):
        self.daemon = Daemon(require_grant=False)
        self.addCleanup(self.daemon.close)
        self.admin = credsd.AdminClient(self.daemon.admin_socket, actor="alice")
        self.addCleanup(self.admin.close)
        self.admin.members_set("ws1", "alice", "write")
        self.admin.connections_upsert("ws1", "fal", "Fal", {"apiKey": FAL_KEY})

    def test_reconnect_after_a_restart(self):
        client = credsd.ResolveClient(self.daemon.resolve_socket, pool_size=2, reconnect_backoff=(0.01, 0.2))
        self.addCleanup(client.close)
        self.assertEqual(client.resolve("ws1", "fal").credential["apiKey"], FAL_KEY)
        self.assertEqual(client.resolve("ws1", "fal").source, "byo")
        before = client._pool.connections()
        self.assertEqual(self.daemon.stop(), 0)  # SIGTERM: credsd closes its connections
        wait_for(lambda: not any(c.alive for c in before), what="the client to see both connections close")
        # a call made while the daemon is down waits, reconnecting with backoff, within its timeout
        outcome = {}

        def call():
            try:
                outcome["receipt"] = client.resolve("ws1", "fal", timeout=30)
            except Exception as error:  # reported by the assertion below
                outcome["error"] = error

        with LogCapture() as logs:
            thread = threading.Thread(target=call)
            thread.start()
            wait_for(lambda: max(b.failures for b in client._pool._backoffs) >= 2, what="failed connects")
            self.daemon.start()
            thread.join(30)
        self.assertEqual(outcome.get("receipt").credential["apiKey"], FAL_KEY, outcome.get("error"))
        self.assertTrue(any("cannot connect" in line for line in logs.lines), logs.lines)
        # the other connection of the pool is made again too; the admin client's as well
        for _ in range(4):
            self.assertEqual(client.resolve("ws1", "fal").source, "byo")
        self.assertTrue(all(c.alive for c in client._pool.connections()))
        self.assertEqual(self.admin.members_list("ws1")["members"], [{"principal": "alice", "role": "write"}])

    def test_async_client_reconnects_after_a_kill(self):
        async def run():
            async with credsd.AsyncResolveClient(self.daemon.resolve_socket,
                                                 reconnect_backoff=(0.01, 0.2)) as client:
                self.assertEqual((await client.resolve("ws1", "fal")).source, "byo")
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, lambda: self.daemon.restart(kill=True))
                receipts = await asyncio.gather(*[client.resolve("ws1", "fal", timeout=30) for _ in range(20)])
                return {r.credential["apiKey"] for r in receipts}

        self.assertEqual(asyncio.run(run()), {FAL_KEY})

    def test_overloaded_when_the_socket_is_full(self):
        self.daemon.limits = "maxConnections = 2"
        self.daemon.write_config()
        self.daemon.restart(kill=True)
        client = credsd.ResolveClient(self.daemon.resolve_socket)
        self.addCleanup(client.close)
        self.assertEqual(client.health()["status"], "ok")
        other = credsd.ResolveClient(self.daemon.resolve_socket)
        self.addCleanup(other.close)
        self.assertEqual(other.health()["status"], "ok")
        third = credsd.ResolveClient(self.daemon.resolve_socket)
        self.addCleanup(third.close)
        with self.assertRaises(credsd.CredsdError) as caught:
            third.health()
        self.assertEqual((caught.exception.reason, caught.exception.code), (errors.OVERLOADED, -32002))
        self.assertTrue(caught.exception.retryable)
        other.close()

        def third_gets_in():
            try:
                return third.health()["status"] == "ok"
            except credsd.CredsdError as error:
                if error.reason != errors.OVERLOADED:
                    raise
                return False

        wait_for(third_gets_in, what="a free connection slot")

    def test_master_key_taken_away(self):
        grant_free = credsd.ResolveClient(self.daemon.resolve_socket)
        self.addCleanup(grant_free.close)
        self.assertEqual(grant_free.resolve("ws1", "fal").source, "byo")
        self.daemon.write_config(key_files=[])
        self.daemon.restart(kill=True)
        self.assertEqual(self.admin.health()["status"], "degraded")
        with self.assertRaises(credsd.CredsdError) as caught:
            self.admin.connections_upsert("ws1", "fal", "Fal 2", {"apiKey": FAL_KEY})
        self.assertEqual((caught.exception.reason, caught.exception.code), (errors.ENCRYPTION_KEY_MISSING, -32020))
        with self.assertRaises(credsd.CredsdError) as caught:
            grant_free.resolve("ws1", "fal")
        self.assertEqual((caught.exception.reason, caught.exception.code), (errors.INTEGRITY_ERROR, -32021))
        self.assertTrue(caught.exception.data["keyId"].startswith("k_"))
        self.assertNotIn(FAL_KEY, str(caught.exception) + repr(caught.exception))
        self.assertEqual(raw_call(self.daemon.resolve_socket, "health")["result"]["encryption"], "missing")


if __name__ == "__main__":
    unittest.main()
