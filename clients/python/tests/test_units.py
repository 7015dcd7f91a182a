"""Pieces that need no daemon: socket paths, receipts, outcomes, Standard Webhooks verification."""

import asyncio
import base64
import contextlib
import email.message
import hashlib
import hmac
import io
import json
import os
import pickle
import time
import unittest
import urllib.request
from unittest import mock

import credsd
from credsd import errors

from .support import strings_reachable

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


class SocketPathTests(unittest.TestCase):
    def test_argument_then_environment_then_default(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("CREDSD_RESOLVE_SOCKET", None)
            os.environ.pop("CREDSD_ADMIN_SOCKET", None)
            self.assertEqual(credsd.ResolveClient().socket_path, "/run/credsd/resolve.sock")
            self.assertEqual(credsd.AdminClient().socket_path, "/run/credsd/admin.sock")
            self.assertEqual(credsd.AsyncResolveClient().socket_path, "/run/credsd/resolve.sock")
            os.environ["CREDSD_RESOLVE_SOCKET"] = "/tmp/r.sock"
            os.environ["CREDSD_ADMIN_SOCKET"] = "/tmp/a.sock"
            self.assertEqual(credsd.ResolveClient().socket_path, "/tmp/r.sock")
            self.assertEqual(credsd.AdminClient().socket_path, "/tmp/a.sock")
            self.assertEqual(credsd.AsyncAdminClient().socket_path, "/tmp/a.sock")
            self.assertEqual(credsd.ResolveClient("/x.sock").socket_path, "/x.sock")
            self.assertEqual(credsd.AdminClient("/y.sock").socket_path, "/y.sock")


class ReceiptTests(unittest.TestCase):
    FIELDS = {"workspaceId": "ws1", "provider": "google-workspace", "source": "byo", "policy": None,
              "mode": "oauth-user", "connectionId": "conn_AAAAAAAAAAAAAAAA",
              "credential": {"accessToken": "ya29.SECRET-TOKEN", "tokenType": "Bearer"},
              "headers": {"Authorization": "Bearer ya29.SECRET-TOKEN"}, "expiresAt": "2026-12-02T03:00:00Z",
              "scopes": ["a", "b"]}

    def test_fields_as_attributes_and_items(self):
        receipt = credsd.Receipt(self.FIELDS, grant="cg_GRANTGRANTGRANT")
        self.assertEqual(receipt.workspace_id, "ws1")
        self.assertEqual(receipt.expires_at, "2026-12-02T03:00:00Z")
        self.assertEqual(receipt.expiresAt, "2026-12-02T03:00:00Z")
        self.assertEqual(receipt["scopes"], ["a", "b"])
        self.assertIsNone(receipt.cooling_down_until)
        self.assertIsNone(receipt.builtin_key_id)
        self.assertIn("headers", receipt)
        with self.assertRaises(AttributeError):
            receipt.no_such_field
        with self.assertRaises(AttributeError):
            receipt.source = "built_in"

    def test_repr_str_and_pickle_hide_the_credential_and_grant(self):
        receipt = credsd.Receipt(self.FIELDS, grant="cg_GRANTGRANTGRANT")
        for text in (repr(receipt), str(receipt), "%s" % receipt, "{!r}".format(receipt)):
            self.assertNotIn("SECRET-TOKEN", text)
            self.assertNotIn("GRANTGRANT", text)
            self.assertIn("'accessToken': '<redacted>'", text)
            self.assertIn("'tokenType': '<redacted>'", text)
            self.assertIn("conn_AAAAAAAAAAAAAAAA", text)
        with self.assertRaises(TypeError):
            pickle.dumps(receipt)
        grant = credsd.GrantInfo({"grant": "cg_GRANTGRANTGRANT", "expiresAt": "x", "workspaceId": "ws1",
                                  "providers": None})
        self.assertNotIn("GRANTGRANT", repr(grant) + str(grant))
        self.assertEqual(grant.grant, "cg_GRANTGRANTGRANT")
        self.assertFalse(any("GRANTGRANT" in text for text in strings_reachable(receipt)))

    def test_headers_and_credential_print_redacted_and_work_as_dicts(self):
        receipt = credsd.Receipt(self.FIELDS, grant="cg_GRANTGRANTGRANT")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            print(receipt.headers)
            print(receipt.credential)
            print(receipt.headers, receipt.credential, [receipt.headers], {"h": receipt.credential})
        for text in (printed.getvalue(), str(receipt.headers), repr(receipt.headers), f"{receipt.headers}",
                     "%s %r" % (receipt.headers, receipt.headers), str(receipt.credential),
                     repr(receipt.credential), "{}".format(receipt.credential), str(receipt.to_dict())):
            self.assertNotIn("SECRET-TOKEN", text)
            self.assertNotIn("Bearer", text)
        self.assertEqual(str(receipt.headers), "{'Authorization': '<redacted>'}")
        self.assertEqual(str(receipt.credential), "{'accessToken': '<redacted>', 'tokenType': '<redacted>'}")
        # still an ordinary mapping: equal to the dict, its values readable, usable as request headers
        self.assertIsInstance(receipt.headers, dict)
        self.assertEqual(receipt.headers, {"Authorization": "Bearer ya29.SECRET-TOKEN"})
        self.assertEqual(receipt.credential["accessToken"], "ya29.SECRET-TOKEN")
        self.assertEqual(dict(receipt.headers.items()), {"Authorization": "Bearer ya29.SECRET-TOKEN"})
        self.assertNotIn("SECRET-TOKEN", repr(receipt.headers.copy()))
        request = urllib.request.Request("http://127.0.0.1:9/x", headers=receipt.headers)
        self.assertEqual(request.get_header("Authorization"), "Bearer ya29.SECRET-TOKEN")
        self.assertEqual(json.loads(json.dumps(receipt.headers)), {"Authorization": "Bearer ya29.SECRET-TOKEN"})

    def test_the_client_grant_shows_in_no_vars_or_repr(self):
        grant = "cg_" + "V" * 43
        info = credsd.GrantInfo({"grant": grant, "expiresAt": "x", "workspaceId": "ws1", "providers": None})
        clients = [credsd.ResolveClient("/nonexistent/r.sock", grant=grant),
                   credsd.ResolveClient("/nonexistent/r.sock", grant=info),
                   credsd.AsyncResolveClient("/nonexistent/r.sock", grant=grant)]
        for client in clients:
            with self.subTest(client=type(client).__name__):
                for text in (repr(vars(client)), str(client.__dict__), repr(client), str(client),
                             repr(client._grant), str(client._grant)):
                    self.assertNotIn(grant, text)
                self.assertFalse(any(grant in text for text in strings_reachable(client)))
                self.assertEqual(client._grant_for(None), grant)  # still sent when a call names none
                with self.assertRaises(TypeError):
                    pickle.dumps(client._grant)
        self.assertIsNone(credsd.ResolveClient("/nonexistent/r.sock")._grant_for(None))
        self.assertEqual(clients[0]._grant_for("cg_other"), "cg_other")

    def test_a_body_that_is_not_utf8_is_refused_before_sending(self):
        client = credsd.ResolveClient("/nonexistent/r.sock", grant="cg_" + "g" * 43)
        with self.assertRaises(credsd.CredsdError) as caught:
            client.verify_event("ws1", "resend", {"svix-id": "msg_1"}, b'{"type": "email.sent"}\xff\xfe', timeout=5)
        self.assertEqual(caught.exception.reason, errors.INVALID_PARAMS)
        self.assertEqual(caught.exception.method, "events.verify")

        async def run():
            async_client = credsd.AsyncResolveClient("/nonexistent/r.sock", grant="cg_" + "g" * 43)
            with self.assertRaises(credsd.CredsdError) as caught:
                await async_client.verify_event("ws1", "resend", {}, bytearray(b"\xc3\x28"), timeout=5)
            return caught.exception.reason

        self.assertEqual(asyncio.run(run()), errors.INVALID_PARAMS)

    def test_errors_pickle_with_their_fields(self):
        error = credsd.CredsdTimeout(errors.TIMEOUT, "late", method="resolve")
        again = pickle.loads(pickle.dumps(error))
        self.assertIsInstance(again, credsd.CredsdTimeout)
        self.assertEqual((again.reason, again.message, again.method), ("timeout", "late", "resolve"))

    def test_outcome_for_status(self):
        cases = {200: "ok", 204: "ok", 401: "unauthorized", 403: "unauthorized", 429: "rate_limited",
                 500: "upstream_error", 503: "upstream_error", 400: None, 404: None, 302: None}
        for status, outcome in cases.items():
            self.assertEqual(credsd.outcome_for_status(status), outcome, status)


class StandardWebhooksTests(unittest.TestCase):
    def signed(self, body=b'{"seq":1,"type":"connection.created"}', webhook_id="evt_abc_1", stamp=None):
        stamp = str(int(time.time()) if stamp is None else stamp)
        key = base64.b64decode(SECRET[6:])
        signature = base64.b64encode(hmac.new(key, f"{webhook_id}.{stamp}.".encode() + body,
                                              hashlib.sha256).digest()).decode()
        return {"webhook-id": webhook_id, "webhook-timestamp": stamp, "webhook-signature": "v1," + signature}, body

    def test_a_valid_signature_gives_the_event(self):
        headers, body = self.signed()
        self.assertEqual(credsd.verify_webhook(SECRET, headers, body), {"seq": 1, "type": "connection.created"})
        self.assertEqual(credsd.sign_webhook(SECRET, headers["webhook-id"], headers["webhook-timestamp"], body),
                         headers["webhook-signature"])
        # header names in any case, an email.message.Message (http.server), bytes key, several signatures
        message = email.message.Message()
        for name, value in headers.items():
            message[name.title()] = value
        self.assertEqual(credsd.verify_webhook(SECRET, message, body)["seq"], 1)
        self.assertEqual(credsd.verify_webhook(base64.b64decode(SECRET[6:]), headers, body.decode())["seq"], 1)
        several = dict(headers, **{"webhook-signature": "v1,AAAA v2,zzz " + headers["webhook-signature"]})
        self.assertEqual(credsd.verify_webhook(SECRET, several, body)["seq"], 1)

    def test_refusals(self):
        now = int(time.time())  # passed to every check: a second boundary between signing and checking is no flake
        headers, body = self.signed(stamp=now)
        cases = [
            (errors.SIGNATURE_INVALID, SECRET, headers, body + b" "),
            (errors.SIGNATURE_INVALID, SECRET, dict(headers, **{"webhook-id": "evt_abc_2"}), body),
            (errors.SIGNATURE_INVALID, SECRET, dict(headers, **{"webhook-signature": "v1,AAAA"}), body),
            (errors.SIGNATURE_INVALID, "whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body),
            (errors.TIMESTAMP_OUT_OF_TOLERANCE, SECRET, self.signed(stamp=now - 301)[0], body),
            (errors.TIMESTAMP_OUT_OF_TOLERANCE, SECRET, self.signed(stamp=now + 301)[0], body),
            (errors.INVALID_PARAMS, SECRET, {"webhook-id": "x", "webhook-timestamp": "1"}, body),
            (errors.INVALID_PARAMS, SECRET, dict(headers, **{"webhook-timestamp": "soon"}), body),
            (errors.INVALID_PARAMS, "whsec_not*base64", headers, body),
        ]
        for reason, secret, hdrs, payload in cases:
            with self.subTest(reason=reason, headers=hdrs):
                with self.assertRaises(credsd.WebhookVerificationError) as caught:
                    credsd.verify_webhook(secret, hdrs, payload, now=now)
                self.assertEqual(caught.exception.reason, reason)
                self.assertEqual(caught.exception.code, errors.REASONS[reason])
                self.assertIsInstance(caught.exception, credsd.CredsdError)
                self.assertNotIn(SECRET[6:], str(caught.exception) + repr(caught.exception))
        # the tolerance is 5 minutes either way, inclusive
        stamp = int(time.time())
        hdrs, payload = self.signed(stamp=stamp)
        self.assertEqual(credsd.verify_webhook(SECRET, hdrs, payload, now=stamp + 300)["seq"], 1)
        self.assertEqual(credsd.verify_webhook(SECRET, hdrs, payload, now=stamp - 300)["seq"], 1)

    def test_an_empty_or_truncated_secret_is_refused(self):
        stamp = int(time.time())
        body = b'{"seq":1,"type":"forged"}'
        for key in (b"", b"short-key", b"x" * 15):
            forged = "v1," + base64.b64encode(hmac.new(key, f"evt_x_1.{stamp}.".encode() + body,
                                                      hashlib.sha256).digest()).decode()
            headers = {"webhook-id": "evt_x_1", "webhook-timestamp": str(stamp), "webhook-signature": forged}
            secrets = [key, bytearray(key), "whsec_" + base64.b64encode(key).decode(), base64.b64encode(key).decode(),
                       " whsec_" + base64.b64encode(key).decode() + "\n"]
            if not key:
                secrets += ["", "whsec_", "   ", " whsec_ \n", "\n"]
            for secret in secrets:
                with self.subTest(key=key, secret=secret):
                    with self.assertRaises(credsd.WebhookVerificationError) as caught:
                        credsd.verify_webhook(secret, headers, body, now=stamp)
                    self.assertEqual(caught.exception.reason, errors.INVALID_PARAMS)
                    self.assertIn("16", caught.exception.message)
                    if key:
                        text = str(caught.exception) + repr(caught.exception)
                        self.assertNotIn(base64.b64encode(key).decode(), text)
                        self.assertNotIn(key.decode(), text)
                    with self.assertRaises(credsd.WebhookVerificationError):
                        credsd.sign_webhook(secret, "evt_x_1", stamp, body)
        # the secret file cut short: still base64, 12 bytes of the 32
        truncated = "whsec_" + base64.b64encode(base64.b64decode(SECRET[6:])[:12]).decode()
        headers, body = self.signed(stamp=stamp)
        with self.assertRaises(credsd.WebhookVerificationError) as caught:
            credsd.verify_webhook(truncated, headers, body, now=stamp)
        self.assertEqual(caught.exception.reason, errors.INVALID_PARAMS)
        self.assertNotIn(truncated[6:], str(caught.exception) + repr(caught.exception))
        for secret in (None, 12345):
            with self.assertRaises(credsd.WebhookVerificationError):
                credsd.verify_webhook(secret, headers, body, now=stamp)
        # 16 bytes is enough
        sixteen = "whsec_" + base64.b64encode(b"k" * 16).decode()
        headers = dict(headers, **{"webhook-signature": credsd.sign_webhook(sixteen, "evt_abc_1", stamp, body)})
        self.assertEqual(credsd.verify_webhook(sixteen, headers, body, now=stamp)["seq"], 1)

    def test_the_timestamp_must_be_ascii_unix_seconds(self):
        stamp = int(time.time())
        arabic_indic = str(stamp).translate(str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664"
                                                                        "\u0665\u0666\u0667\u0668\u0669"))
        fullwidth = str(stamp).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        underscored = str(stamp)[:1] + "_" + str(stamp)[1:]
        for bad in ("9" * 400, "9" * 13, "+" + str(stamp), "-" + str(stamp), underscored, arabic_indic, fullwidth,
                    str(stamp) + ".0", "0x" + format(stamp, "x"), "", "1e9"):
            # signed over exactly that text, so only the timestamp's form can refuse it
            headers, body = self.signed(stamp=bad)
            with self.subTest(timestamp=bad[:20]):
                with self.assertRaises(credsd.WebhookVerificationError) as caught:
                    credsd.verify_webhook(SECRET, headers, body, now=stamp)
                self.assertEqual(caught.exception.reason, errors.INVALID_PARAMS)
        headers, body = self.signed(stamp=stamp)
        self.assertEqual(credsd.verify_webhook(SECRET, headers, body, now=stamp)["seq"], 1)
        # optional white space around a header value (HTTP's OWS) is not part of it
        headers, body = self.signed(stamp=stamp)
        padded = dict(headers, **{"webhook-timestamp": " %d\t" % stamp})
        self.assertEqual(credsd.verify_webhook(SECRET, padded, body, now=stamp)["seq"], 1)


if __name__ == "__main__":
    unittest.main()
