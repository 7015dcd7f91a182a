"""End to end against a real ``credsd serve`` (temporary directory, real sockets, real store), with a real
HTTP server on 127.0.0.1 as Google's token endpoint, another as the webhook receiver, and a third as a
provider's API for the executor example."""

import asyncio
import base64
import datetime
import importlib.util
import json
import os
import time
import unittest
import urllib.parse

import credsd
from credsd import errors

from . import support
from .support import Daemon, FakeProvider, FakeTokenEndpoint, LogCapture, WebhookReceiver, wait_for

FAL_KEY = "6f1c2a3b-1111-4222-8333-944455556666:0123456789abcdef0123456789abcdef"
GEMINI_BUILTIN = "AIzaPyTestBuiltinKey0000000000000000000"
RESEND_KEY = "re_PyTestResendKey_0123456789"
RESEND_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"resend-webhook-secret-32-bytes!!").decode()
OWN_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"credsd-own-webhook-secret-bytes!").decode()

D = None  # the daemon
TOKENS = None  # the token endpoint
HOOKS = None  # the webhook receiver


def setUpModule():
    global D, TOKENS, HOOKS
    TOKENS = FakeTokenEndpoint()
    HOOKS = WebhookReceiver()
    D = Daemon(builtin={"gemini": GEMINI_BUILTIN})
    secret_file = support.write_secret(D.dir, "webhook.secret", OWN_WEBHOOK_SECRET + "\n")
    D.extra = TOKENS.config_section(D.dir) + f"""
[webhooks]
url = "{HOOKS.base_url}/hook"
secretFile = "{secret_file}"
"""
    D.write_config()
    D.restart(kill=True)
    D.secrets += [FAL_KEY, RESEND_KEY, RESEND_WEBHOOK_SECRET, OWN_WEBHOOK_SECRET, FakeTokenEndpoint.client_secret]


def tearDownModule():
    for thing in (D, TOKENS, HOOKS):
        if thing is not None:
            thing.close()


def iso(seconds_from_now):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class DaemonCase(unittest.TestCase):
    """Each test gets its own workspace (named after the test), with alice as writer."""

    def setUp(self):
        self.ws = "ws_" + self._testMethodName[5:40]
        self.admin = credsd.AdminClient(D.admin_socket, actor="alice")
        self.addCleanup(self.admin.close)
        self.admin.members_set(self.ws, "alice", "write")
        self.grant = self.admin.grants_issue(self.ws)
        D.secrets.append(self.grant.grant)
        self.client = credsd.ResolveClient(D.resolve_socket, grant=self.grant)
        self.addCleanup(self.client.close)

    def add_fal(self, workspace=None):
        result = self.admin.connections_upsert(workspace or self.ws, "fal", "Team Fal", {"apiKey": FAL_KEY})
        return result["connection"]["id"]

    def reason_of(self, call):
        with self.assertRaises(credsd.CredsdError) as caught:
            call()
        self.assert_no_secret(str(caught.exception) + repr(caught.exception) + repr(caught.exception.data))
        return caught.exception

    def assert_no_secret(self, text):
        for secret in D.secrets + TOKENS_SECRETS():
            self.assertNotIn(secret, text)


def TOKENS_SECRETS():
    with TOKENS.lock:
        return [f"ya29.py-access-{n}" for n in range(1, TOKENS.issued + 1)] + sorted(TOKENS.refresh_tokens)


class ResolveTests(DaemonCase):
    def test_resolve_an_api_key_connection(self):
        connection_id = self.add_fal()
        receipt = self.client.resolve(workspace_id=self.ws, provider="fal")
        self.assertIsInstance(receipt, credsd.Receipt)
        self.assertEqual((receipt.source, receipt.policy, receipt.mode), ("byo", "auto", "service"))
        self.assertEqual(receipt.connection_id, connection_id)
        self.assertEqual(receipt.credential, {"apiKey": FAL_KEY})
        self.assertEqual(receipt.headers, {"Authorization": "Key " + FAL_KEY})
        self.assertEqual(receipt["workspaceId"], self.ws)
        self.assertIsNone(receipt.fallback_reason)
        self.assertIsNone(receipt.builtin_key_id)
        self.assertIsNone(receipt.expires_at)
        self.assertEqual(receipt.to_dict()["credential"], {"apiKey": FAL_KEY})
        for text in (repr(receipt), str(receipt), f"{receipt}"):
            self.assertNotIn(FAL_KEY, text)
            self.assertIn("'Authorization': '<redacted>'", text)
            self.assertIn("'apiKey': '<redacted>'", text)
            self.assertIn(connection_id, text)
        # by id, too; and required_scopes is ignored for API keys
        again = self.client.resolve(self.ws, "fal", connection_id=connection_id, required_scopes=["x"])
        self.assertEqual(again.credential, {"apiKey": FAL_KEY})

    def test_platform_key_fallback(self):
        receipt = self.client.resolve(self.ws, "gemini")
        self.assertEqual(receipt.source, credsd.SOURCE_BUILT_IN)
        self.assertEqual(receipt.fallback_reason, "no_connection")
        self.assertTrue(receipt.builtin_key_id.startswith("bk_"))
        self.assertEqual(receipt.builtinKeyId, receipt.builtin_key_id)
        self.assertIsNone(receipt.connection_id)
        self.assertEqual(receipt.headers, {"x-goog-api-key": GEMINI_BUILTIN})
        self.assertNotIn(GEMINI_BUILTIN, repr(receipt))

    def test_grants_missing_invalid_other_workspace_other_provider_revoked(self):
        self.add_fal()
        with credsd.ResolveClient(D.resolve_socket) as no_grant:
            self.assertEqual(self.reason_of(lambda: no_grant.resolve(self.ws, "fal")).reason, errors.GRANT_REQUIRED)
            error = self.reason_of(lambda: no_grant.resolve(self.ws, "fal", grant="cg_" + "x" * 43))
            self.assertEqual((error.reason, error.code), (errors.GRANT_INVALID, -32041))
            self.assertFalse(error.retryable)
        other = "ws_other_" + self.ws[-20:]
        self.admin.members_set(other, "alice", "write")
        error = self.reason_of(lambda: self.client.resolve(other, "fal"))
        self.assertEqual(error.reason, errors.FORBIDDEN)
        gemini_only = self.admin.grants_issue(self.ws, providers=["gemini"], ttl_seconds=60)
        D.secrets.append(gemini_only.grant)
        self.assertEqual(gemini_only.providers, ["gemini"])
        self.assertEqual(self.client.resolve(self.ws, "gemini", grant=gemini_only).source, "built_in")
        self.assertEqual(self.reason_of(lambda: self.client.resolve(self.ws, "fal", grant=gemini_only)).reason,
                         errors.FORBIDDEN)
        self.assertEqual(self.admin.grants_revoke(gemini_only), {"revoked": True})
        self.assertEqual(self.reason_of(lambda: self.client.resolve(self.ws, "gemini", grant=gemini_only)).reason,
                         errors.GRANT_INVALID)
        self.assertEqual(self.reason_of(lambda: self.admin.grants_revoke(gemini_only)).reason, errors.NOT_FOUND)
        for text in (repr(gemini_only), str(gemini_only), repr(self.client), repr(self.admin)):
            self.assertNotIn(gemini_only.grant, text)
            self.assertNotIn(self.grant.grant, text)

    def test_error_reasons_from_the_daemon(self):
        connection_id = self.add_fal()
        admin, client, ws = self.admin, self.client, self.ws
        cases = [
            (errors.METHOD_NOT_FOUND, lambda: admin.call("resolve", {"workspaceId": ws, "provider": "fal"})),
            (errors.METHOD_NOT_FOUND, lambda: client.call("members.list", {"workspaceId": ws})),
            (errors.INVALID_PARAMS, lambda: client.call("resolve", {"workspace_id": ws, "provider": "fal"})),
            (errors.INVALID_PARAMS, lambda: client.resolve("ws with spaces", "fal")),
            (errors.UNKNOWN_PROVIDER, lambda: client.resolve(ws, "no-such-provider")),
            (errors.PROVIDER_NOT_CONNECTABLE, lambda: client.resolve(ws, "telegram")),
            (errors.NOT_FOUND, lambda: client.resolve(ws, "fal", connection_id="conn_AAAAAAAAAAAAAAAA")),
            (errors.NOT_FOUND, lambda: client.resolve(ws, "gemini", connection_id=connection_id)),
            (errors.FORBIDDEN, lambda: admin.connections_list(ws, actor="mallory")),
            (errors.INVALID_CREDENTIAL,
             lambda: admin.connections_upsert(ws, "resend", "R", {"apiKey": "re_x y"})),
            (errors.INVALID_STATE, lambda: admin.oauth_complete("st_unknown_state", code="c")),
        ]
        for reason, call in cases:
            with self.subTest(reason=reason):
                error = self.reason_of(call)
                self.assertEqual(error.reason, reason)
                self.assertEqual(error.code, errors.REASONS[reason])
        error = self.reason_of(lambda: admin.connections_upsert(ws, "resend", "R", {"apiKey": "re_x y"}))
        self.assertEqual(error.data["fields"][0]["problem"], "whitespace")
        self.assertEqual(self.reason_of(lambda: client.call("resolve", {"workspace_id": ws, "provider": "fal"}))
                         .data["unknown"], ["workspace_id"])
        # policies: byo with no connection, built_in with no platform key, a revoked connection named
        admin.policy_set(ws, "gemini", "byo")
        self.assertEqual(self.reason_of(lambda: client.resolve(ws, "gemini")).reason, errors.NO_CREDENTIAL)
        admin.policy_set(ws, "fal", "built_in")
        self.assertEqual(self.reason_of(lambda: client.resolve(ws, "fal")).reason, errors.BUILTIN_UNAVAILABLE)
        admin.policy_set(ws, "fal", "auto")
        self.assertEqual(admin.connections_revoke(connection_id)["connection"]["status"], "revoked")
        error = self.reason_of(lambda: client.resolve(ws, "fal", connection_id=connection_id))
        self.assertEqual((error.reason, error.data.get("status")), (errors.CONNECTION_UNAVAILABLE, "revoked"))
        # the platform key cooling down for this workspace, every key of the pool: rate_limited
        admin.policy_set(ws, "gemini", "auto")
        receipt = client.resolve(ws, "gemini")
        self.assertEqual(client.report(receipt, credsd.OUTCOME_RATE_LIMITED, http_status=429,
                                       retry_after_seconds=120), {})
        error = self.reason_of(lambda: client.resolve(ws, "gemini"))
        self.assertEqual(error.reason, errors.RATE_LIMITED)
        self.assertGreaterEqual(error.retry_after, 1)
        self.assertTrue(error.retryable)
        # a budget of nothing: budget_exhausted
        budget_ws = ws + "_b"
        admin.members_set(budget_ws, "alice", "write")
        admin.budgets_set(budget_ws, "gemini", "day", max_resolves=0)
        budget_grant = admin.grants_issue(budget_ws)
        D.secrets.append(budget_grant.grant)
        error = self.reason_of(lambda: client.resolve(budget_ws, "gemini", grant=budget_grant))
        self.assertEqual((error.reason, error.data["limit"]), (errors.BUDGET_EXHAUSTED, "maxResolves"))
        self.assertGreaterEqual(error.retry_after, 1)

    def test_frame_too_large_from_the_daemon_then_a_new_connection(self):
        with credsd.ResolveClient(D.resolve_socket, grant=self.grant, max_frame_bytes=None) as client:
            self.assertEqual(client.health()["status"], "ok")
            first = client._pool.connections()[0]
            error = self.reason_of(lambda: client.resolve(self.ws, "gemini", required_scopes=["s" * 70000]))
            self.assertEqual((error.reason, error.code), (errors.FRAME_TOO_LARGE, -32001))
            self.assertEqual(error.data["limit"], 65536)
            self.assertEqual(client.resolve(self.ws, "gemini").source, "built_in")
            self.assertIsNot(client._pool.connections()[0], first)
        # by default the client refuses it before sending
        self.assertEqual(self.reason_of(lambda: self.client.resolve(self.ws, "gemini", required_scopes=["s" * 70000]))
                         .reason, errors.FRAME_TOO_LARGE)

    def test_events_verify_for_resend_webhooks(self):
        self.admin.connections_upsert(self.ws, "resend", "Mail", {"apiKey": RESEND_KEY,
                                                                  "webhookSecret": RESEND_WEBHOOK_SECRET})
        body = json.dumps({"type": "email.delivered", "data": {"email_id": "e1"}}).encode()
        stamp = str(int(time.time()))
        signature = credsd.sign_webhook(RESEND_WEBHOOK_SECRET, "msg_1", stamp, body)
        headers = {"Svix-Id": "msg_1", "Svix-Timestamp": stamp, "Svix-Signature": "v1,bm9wZQ== " + signature,
                   "Content-Type": "application/json", "Cookie": "not sent"}
        verified = self.client.verify_event(self.ws, "resend", headers, body)
        self.assertEqual((verified["verified"], verified["event"]["type"]), (True, "email.delivered"))
        self.assertEqual(self.reason_of(lambda: self.client.verify_event(self.ws, "resend", headers, body)).reason,
                         errors.REPLAYED)
        headers["Svix-Id"] = "msg_2"
        self.assertEqual(self.reason_of(lambda: self.client.verify_event(self.ws, "resend", headers, body)).reason,
                         errors.SIGNATURE_INVALID)
        old = str(int(time.time()) - 600)
        headers.update({"Svix-Id": "msg_3", "Svix-Timestamp": old,
                        "Svix-Signature": credsd.sign_webhook(RESEND_WEBHOOK_SECRET, "msg_3", old, body)})
        self.assertEqual(self.reason_of(lambda: self.client.verify_event(self.ws, "resend", headers, body)).reason,
                         errors.TIMESTAMP_OUT_OF_TOLERANCE)


class OAuthTests(DaemonCase):
    def tearDown(self):
        TOKENS.behaviour = "normal"

    def test_google_connection_through_the_local_token_endpoint(self):
        begun = self.admin.oauth_begin(self.ws, "google-workspace", "Drive", FakeTokenEndpoint.redirect_uri,
                                       scopes=["https://www.googleapis.com/auth/drive.file"])
        url = urllib.parse.urlsplit(begun["authorizationUrl"])
        query = dict(urllib.parse.parse_qsl(url.query))
        self.assertEqual(f"{url.scheme}://{url.netloc}", TOKENS.base_url)
        self.assertEqual((query["client_id"], query["code_challenge_method"], query["state"]),
                         (FakeTokenEndpoint.client_id, "S256", begun["state"]))
        code = "code-" + self.ws
        with TOKENS.lock:
            TOKENS.codes[code] = query["code_challenge"]
        done = self.admin.oauth_complete(begun["state"], code=code)
        self.assertEqual(done["connection"]["status"], "active", TOKENS.problems)
        self.assertEqual(TOKENS.problems, [])
        receipt = self.client.resolve(self.ws, "google-workspace")
        self.assertEqual((receipt.source, receipt.mode, receipt.policy), ("byo", "oauth-user", None))
        self.assertEqual(receipt.connection_id, begun["connectionId"])
        token = receipt.credential["accessToken"]
        self.assertTrue(token.startswith("ya29.py-access-"))
        self.assertEqual(receipt.credential["tokenType"], "Bearer")
        self.assertEqual(receipt.headers, {"Authorization": "Bearer " + token})
        self.assertEqual(len(receipt.scopes), 2)
        self.assertTrue(receipt.expires_at.endswith("Z"))
        self.assertNotIn(token, repr(receipt))
        self.assertNotIn("refresh", json.dumps(receipt.to_dict()))
        # scopes: one that was granted, one that was not
        self.assertEqual(self.client.resolve(self.ws, "google-workspace",
                                             required_scopes=["https://www.googleapis.com/auth/drive.file"])
                         .credential["accessToken"], token)
        error = self.reason_of(lambda: self.client.resolve(self.ws, "google-workspace",
                                                           required_scopes=["https://mail.google.com/"]))
        self.assertEqual((error.reason, error.data["missing"]), (errors.INSUFFICIENT_SCOPE,
                                                                 ["https://mail.google.com/"]))
        # the state was used up
        self.assertEqual(self.reason_of(lambda: self.admin.oauth_complete(begun["state"], code=code)).reason,
                         errors.INVALID_STATE)

    def import_google(self, expires_in, refresh_token, workspace=None):
        workspace = workspace or self.ws
        with TOKENS.lock:
            TOKENS.refresh_tokens.add(refresh_token)
        D.secrets += [refresh_token, "ya29.imported-" + workspace]
        return self.admin.connections_upsert(workspace, "google-workspace", "Imported", {
            "accessToken": "ya29.imported-" + workspace, "refreshToken": refresh_token,
            "expiresAt": iso(expires_in), "scopes": ["https://www.googleapis.com/auth/drive.file"]})["connection"]["id"]

    def test_refresh_then_reauth_required(self):
        self.import_google(60, "1//py-imported-" + self.ws)  # inside the 300 s refresh window
        refreshed = self.client.resolve(self.ws, "google-workspace")
        self.assertTrue(refreshed.credential["accessToken"].startswith("ya29.py-access-"))
        # the provider now refuses the refresh token: the connection must be authorized again
        TOKENS.behaviour = "invalid_grant"
        other = self.ws + "_r"
        self.admin.members_set(other, "alice", "write")
        connection_id = self.import_google(60, "1//py-imported-" + other, workspace=other)
        grant = self.admin.grants_issue(other)
        D.secrets.append(grant.grant)
        error = self.reason_of(lambda: self.client.resolve(other, "google-workspace", grant=grant))
        self.assertEqual((error.reason, error.data["connectionId"]), (errors.REAUTH_REQUIRED, connection_id))
        self.assertEqual(self.admin.connections_get(connection_id)["connection"]["status"], "error")

    def test_upstream_unavailable_when_the_token_expired_and_the_endpoint_fails(self):
        TOKENS.behaviour = "server_error"
        self.import_google(-60, "1//py-imported-" + self.ws)
        error = self.reason_of(lambda: self.client.resolve(self.ws, "google-workspace"))
        self.assertEqual(error.reason, errors.UPSTREAM_UNAVAILABLE)
        self.assertTrue(error.retryable)


class PipeliningTests(DaemonCase):
    def test_1000_requests_on_one_connection_answered_by_id(self):
        # writes answer after their commit, health at once: answers come out of order
        arrival = []
        with credsd.AdminClient(D.admin_socket, timeout=60) as admin:
            futures = []
            for i in range(1000):
                if i % 2:
                    future = admin.submit("members.set", {"workspaceId": self.ws, "principal": f"p{i}",
                                                          "role": "read"})
                else:
                    future = admin.submit("health")
                future.add_done_callback(lambda f, i=i: arrival.append(i))
                futures.append(future)
            for i, future in enumerate(futures):
                result = future.result(60)
                if i % 2:
                    self.assertEqual(result["principal"], f"p{i}")
                else:
                    self.assertEqual(result["status"], "ok")
            self.assertEqual(len({id(c) for c in admin._pool.connections()}), 1)
        self.assertEqual(sorted(arrival), list(range(1000)))
        self.assertNotEqual(arrival, list(range(1000)), "every answer came in request order")
        self.assertEqual(len(self.admin.members_list(self.ws)["members"]), 501)

    def test_1000_resolves_pipelined(self):
        self.add_fal()
        futures = [self.client.submit("resolve", {"workspaceId": self.ws, "provider": ("fal", "gemini")[i % 2],
                                                  "grant": self.grant.grant}) for i in range(1000)]
        for i, future in enumerate(futures):
            result = future.result(60)
            self.assertEqual((result["provider"], result["source"]), (("fal", "byo"), ("gemini", "built_in"))[i % 2])

    def test_asyncio_pipelines_too(self):
        self.add_fal()

        async def run():
            async with credsd.AsyncResolveClient(D.resolve_socket, grant=self.grant) as client:
                receipts = await asyncio.gather(*[client.resolve(self.ws, ("fal", "gemini")[i % 2])
                                                  for i in range(300)])
                return [r.source for r in receipts]

        self.assertEqual(asyncio.run(run()), ["byo", "built_in"] * 150)


class WatchAndWebhookTests(DaemonCase):
    def test_watch_receives_an_event_and_the_webhook_verifies(self):
        with self.client.watch() as watch:
            # the client's grant was sent, and is kept nowhere in sight: not in vars() or repr of the client
            # or the watch, and nowhere reachable from them but inside the client's redacted Secret
            for thing in (self.client, watch):
                self.assert_no_secret(repr(thing) + str(thing) + repr(vars(thing)))
                self.assertFalse(any(self.grant.grant in text for text in support.strings_reachable(thing)))
            self.assertIn("<redacted>", repr(vars(self.client)))
            connection_id = self.add_fal()
            event = watch.next_event(timeout=20)
            self.assertEqual((event["type"], event["workspaceId"], event["connectionId"]),
                             ("connection.created", self.ws, connection_id))
            self.assertEqual(watch.last_seq, event["seq"])
            with self.assertRaises(credsd.CredsdTimeout):
                watch.next_event(timeout=0.2)
        self.assertEqual(watch.ended, "stopped")
        # the same event reaches the webhook receiver, signed
        headers, body = HOOKS.wait_for(lambda e: e.get("seq") == event["seq"])
        self.assertEqual(credsd.verify_webhook(OWN_WEBHOOK_SECRET, headers, body)["connectionId"], connection_id)
        self.assertTrue(headers["webhook-id"].endswith(f"_{event['seq']}"))
        with self.assertRaises(credsd.WebhookVerificationError) as caught:
            credsd.verify_webhook(OWN_WEBHOOK_SECRET, headers, body.replace(b"connection.created", b"connection.xreated"))
        self.assertEqual(caught.exception.reason, errors.SIGNATURE_INVALID)
        with self.assertRaises(credsd.WebhookVerificationError) as caught:
            credsd.verify_webhook("whsec_" + base64.b64encode(b"another secret, of 32 bytes too.").decode(), headers,
                                  body)
        self.assertEqual(caught.exception.reason, errors.SIGNATURE_INVALID)
        stamp = int(headers["webhook-timestamp"])
        with self.assertRaises(credsd.WebhookVerificationError) as caught:
            credsd.verify_webhook(OWN_WEBHOOK_SECRET, headers, body, now=stamp + 301)
        self.assertEqual(caught.exception.reason, errors.TIMESTAMP_OUT_OF_TOLERANCE)
        self.assertEqual(credsd.verify_webhook(OWN_WEBHOOK_SECRET, headers, body, now=stamp - 299)["seq"],
                         event["seq"])
        self.assertNotIn(OWN_WEBHOOK_SECRET[6:], str(caught.exception))

    def test_a_watch_ends_when_its_grant_is_revoked(self):
        grant = self.admin.grants_issue(self.ws, providers=["fal"])
        D.secrets.append(grant.grant)
        watch = self.client.watch(grant=grant)
        self.addCleanup(watch.close)
        self.add_fal()
        self.assertEqual(watch.next_event(timeout=20)["type"], "connection.created")
        self.admin.grants_revoke(grant)
        self.add_fal()  # the next event closes the connection
        self.assertIsNone(watch.next_event(timeout=20))
        self.assertEqual(watch.ended, "closed")

    def test_admin_watch_and_async_watch(self):
        async def run():
            client = credsd.AsyncResolveClient(D.resolve_socket, grant=self.grant)
            async with await client.watch() as watch:
                loop = asyncio.get_running_loop()
                connection_id = await loop.run_in_executor(None, self.add_fal)
                event = await watch.next_event(timeout=20)
            await client.close()
            return connection_id, event

        with self.admin.watch(workspace_id=self.ws) as admin_watch:
            connection_id, event = asyncio.run(run())
            self.assertEqual((event["type"], event["connectionId"]), ("connection.created", connection_id))
            self.assertEqual(admin_watch.next_event(timeout=20)["seq"], event["seq"])

    def test_report_makes_a_cooling_down_event(self):
        self.add_fal()
        events = self.admin.events_list(workspace_id=self.ws)
        since = events["nextSince"]
        receipt = self.client.resolve(self.ws, "fal")
        self.client.report(receipt, "rate_limited", http_status=429, retry_after_seconds=30)
        self.assertIsNotNone(self.client.resolve(self.ws, "fal").cooling_down_until)
        listed = wait_for(lambda: self.admin.events_list(since=since, workspace_id=self.ws)["events"])
        self.assertEqual(listed[0]["type"], "connection.cooling_down")


def load_example():
    path = os.path.join(support.CLIENT_ROOT, "examples", "executor.py")
    spec = importlib.util.spec_from_file_location("credsd_example_executor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ExecutorExampleTests(DaemonCase):
    def test_the_example_executor_reports_what_the_provider_answered(self):
        example = load_example()
        provider = FakeProvider()
        self.addCleanup(provider.close)
        self.add_fal()
        url = provider.base_url + "/v1/run"
        expected = {200: "ok", 429: "rate_limited", 401: "unauthorized", 503: "upstream_error", 400: None}
        provider.headers = {"Retry-After": "30"}
        for status, outcome in expected.items():
            provider.status = status
            got_status, _, reported = example.call_provider(self.client, self.ws, "fal", url)
            self.assertEqual((got_status, reported), (status, outcome))
            self.assertEqual(provider.requests[-1][2].get("Authorization"), "Key " + FAL_KEY)
        usage = self.admin.usage_get(self.ws, provider="fal")
        reports = {}
        for day in usage["days"]:
            for name, count in day["reports"].items():
                reports[name] = reports.get(name, 0) + count
        self.assertEqual(reports, {"ok": 1, "rate_limited": 1, "unauthorized": 1, "upstream_error": 1})
        self.assertIsNotNone(self.client.resolve(self.ws, "fal").cooling_down_until)
        self.assertEqual(example.retry_after_seconds("120"), 120)


class LeakTests(DaemonCase):
    def test_no_secret_in_reprs_errors_or_logs(self):
        texts = []
        with LogCapture() as logs:
            connection_id = self.add_fal()
            receipt = self.client.resolve(self.ws, "fal")
            texts += [repr(receipt), str(receipt), repr(self.grant), str(self.grant), repr(self.client),
                      repr(self.admin), repr(vars(self.client)), str(self.client.__dict__), str(receipt.headers),
                      repr(receipt.headers), str(receipt.credential), f"{receipt.credential}"]
            self.assertEqual(receipt.headers, {"Authorization": "Key " + FAL_KEY})
            revoked = self.admin.grants_issue(self.ws)
            D.secrets.append(revoked.grant)
            self.admin.grants_revoke(revoked.grant)
            for call in (lambda: self.client.resolve(self.ws, "fal", grant=revoked),
                         lambda: self.client.resolve("ws_someone_else", "fal"),
                         lambda: self.client.report(receipt, "bogus"),
                         lambda: self.admin.connections_upsert(self.ws, "fal", "F", {"apiKey": FAL_KEY + " x"},
                                                               connection_id=connection_id),
                         lambda: self.admin.connections_upsert(self.ws, "fal", "F", {"apiKey": FAL_KEY},
                                                               connection_id="conn_BBBBBBBBBBBBBBBB"),
                         lambda: self.client.call("resolve", {"grant": self.grant.grant, "bogus": FAL_KEY})):
                with self.assertRaises(credsd.CredsdError) as caught:
                    call()
                texts += [str(caught.exception), repr(caught.exception), repr(caught.exception.data)]
            # a connection that drops under the client: logged, and made again
            self.client._pool.connections()[0]._sock.shutdown(2)
            wait_for(lambda: not self.client._pool.connections()[0].alive, what="the drop to be seen")
            texts.append(repr(self.client.resolve(self.ws, "fal")))
        texts += logs.lines
        self.assertTrue(any("closed" in line for line in logs.lines), logs.lines)
        self.assert_no_secret("\n".join(texts))
        # the daemon's own log, while we are here
        self.assert_no_secret(D.log())


if __name__ == "__main__":
    unittest.main()
