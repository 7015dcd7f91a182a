"""Pieces that need no daemon: socket paths, receipts, outcomes, Standard Webhooks verification."""

import base64
import email.message
import hashlib
import hmac
import os
import pickle
import time
import unittest
from unittest import mock

import credsd
from credsd import errors

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
        headers, body = self.signed()
        cases = [
            (errors.SIGNATURE_INVALID, SECRET, headers, body + b" "),
            (errors.SIGNATURE_INVALID, SECRET, dict(headers, **{"webhook-id": "evt_abc_2"}), body),
            (errors.SIGNATURE_INVALID, SECRET, dict(headers, **{"webhook-signature": "v1,AAAA"}), body),
            (errors.SIGNATURE_INVALID, "whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body),
            (errors.TIMESTAMP_OUT_OF_TOLERANCE, SECRET, self.signed(stamp=int(time.time()) - 301)[0], body),
            (errors.TIMESTAMP_OUT_OF_TOLERANCE, SECRET, self.signed(stamp=int(time.time()) + 301)[0], body),
            (errors.INVALID_PARAMS, SECRET, {"webhook-id": "x", "webhook-timestamp": "1"}, body),
            (errors.INVALID_PARAMS, SECRET, dict(headers, **{"webhook-timestamp": "soon"}), body),
            (errors.INVALID_PARAMS, "whsec_not*base64", headers, body),
        ]
        for reason, secret, hdrs, payload in cases:
            with self.subTest(reason=reason, headers=hdrs):
                with self.assertRaises(credsd.WebhookVerificationError) as caught:
                    credsd.verify_webhook(secret, hdrs, payload)
                self.assertEqual(caught.exception.reason, reason)
                self.assertEqual(caught.exception.code, errors.REASONS[reason])
                self.assertIsInstance(caught.exception, credsd.CredsdError)
                self.assertNotIn(SECRET[6:], str(caught.exception) + repr(caught.exception))
        # the tolerance is 5 minutes either way, inclusive
        stamp = int(time.time())
        hdrs, payload = self.signed(stamp=stamp)
        self.assertEqual(credsd.verify_webhook(SECRET, hdrs, payload, now=stamp + 300)["seq"], 1)
        self.assertEqual(credsd.verify_webhook(SECRET, hdrs, payload, now=stamp - 300)["seq"], 1)


if __name__ == "__main__":
    unittest.main()
