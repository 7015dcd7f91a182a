#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/ (committed; rerun only to change the seeds).

frame-decoder:      [limit selector][piece-size selector][byte stream]
rpc-request:        one frame payload
credential-payload: [provider selector (catalog order)][payload JSON]
methods:            [calls-1][method][param choices]... (see the methods section below)
token-replies:      [parser][clock][reply body JSON]
"""
import json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def req(method, params=None, id=1):
    r = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        r["params"] = params
    return json.dumps(r).encode()

requests = {
    "resolve": req("resolve", {"workspaceId": "ws1", "provider": "gemini", "actor": "alice"}),
    "resolve-grant": req("resolve", {"workspaceId": "ws1", "provider": "fal", "grant": "g_abc", "connectionId": "c_1"}, id="r-1"),
    "health": req("health"),
    "providers-list": req("providers.list", None, id=None),
    "upsert": req("connections.upsert", {"workspaceId": "ws1", "provider": "elevenlabs", "displayName": "Voice",
                                         "credentialPayload": {"apiKey": "sk_0123456789abcdef"}, "actor": "alice"}),
    "policy": req("policies.set", {"workspaceId": "ws1", "provider": "gemini", "mode": "auto"}),
    "grant": req("grants.issue", {"workspaceId": "ws1", "actor": "alice", "ttlSeconds": 900, "providers": ["fal"]}),
    "events-verify": req("events.verify", {"workspaceId": "ws1", "provider": "resend", "headers": {"svix-id": "msg_1"}, "body": "{}"}),
    "double-id": b'{"jsonrpc":"2.0","id":1.5e3,"method":"stats"}',
    "no-id": b'{"jsonrpc":"2.0","method":"health"}',
    "object-id": b'{"jsonrpc":"2.0","id":{},"method":"health"}',
    "wrong-version": b'{"jsonrpc":"1.0","id":1,"method":"health"}',
    "params-array": b'{"jsonrpc":"2.0","id":1,"method":"health","params":[1,2]}',
    "batch": b'[{"jsonrpc":"2.0","id":1,"method":"health"}]',
    "numbers": b'[0,-0,1,-1,0.5,-0.0,1e308,1E-308,2.5e-320,9223372036854775807,-9223372036854775808,9223372036854775808,1.0,123456789012345678901234567890]',
    "strings": b'["","\\"","\\\\","\\/","\\b\\f\\n\\r\\t","\\u0000","\\u00e9","\\ud83d\\ude00","\xc3\xa9","\xf0\x9f\x98\x80"]',
    "lone-surrogate": b'["\\ud800"]',
    "invalid-utf8": b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}',
    "overlong-utf8": b'["\xc0\xaf"]',
    "deep": b"[" * 300 + b"]" * 300,
    "deep-ok": b"[" * 200 + b"]" * 200,
    "duplicate-keys": b'{"jsonrpc":"2.0","id":1,"id":2,"method":"health"}',
    "whitespace": b' \t\r\n{ "jsonrpc" : "2.0" , "id" : 1 , "method" : "health" } \n',
    "trailing": b'{"jsonrpc":"2.0","id":1,"method":"health"} x',
    "literals": b'[true,false,null,tru,nul]',
    "control-in-string": b'["a\x01b"]',
    "empty": b"",
    "leading-zero": b"[01]",
    "bare-number": b"-",
    "exponent": b"[1e,1e+,1.e5]",
}
for name, data in requests.items():
    write("rpc-request", name, data)

def frame(payload):
    return struct.pack(">I", len(payload)) + payload

streams = {
    "one-request": (3, 0, frame(requests["resolve"])),
    "pipelined": (3, 5, b"".join(frame(requests[k]) for k in ("resolve", "health", "upsert"))),
    "byte-by-byte": (3, 0, frame(requests["health"]) * 2),
    "empty-frame": (1, 3, frame(b"") + frame(b"x")),
    "too-large": (0, 7, struct.pack(">I", 9) + b"123456789"),
    "too-large-then-more": (1, 63, frame(b"a" * 65) + frame(b"b")),
    "max-length": (2, 31, frame(b"z" * 1024)),
    "announced-huge": (3, 1, b"\xff\xff\xff\xff"),
    "partial-header": (3, 2, b"\x00\x00"),
    "partial-payload": (3, 9, struct.pack(">I", 20) + b"short"),
    "nothing": (0, 0, b""),
}
for name, (limit, piece, data) in streams.items():
    write("frame-decoder", name, bytes([limit, piece]) + data)

payloads = [
    (0, "fal-good", {"apiKey": "0123abcd-0123-4567-89ab-0123456789ab:0123456789abcdef0123456789abcdef"}),
    (0, "fal-shape", {"apiKey": "not-a-fal-key-but-fine"}),
    (1, "gemini-good", {"apiKey": "AIza" + "A" * 35}),
    (1, "gemini-aq", {"apiKey": "AQ.abc_def-123"}),
    (1, "gemini-null", {"apiKey": None}),
    (2, "vercel", {"apiKey": "vck_0123456789abcdefghij"}),
    (3, "elevenlabs-number", {"apiKey": 12345}),
    (3, "elevenlabs-space", {"apiKey": "sk_with space_inside"}),
    (3, "elevenlabs-control", {"apiKey": "sk_\u0007bell_inside"}),
    (3, "elevenlabs-empty", {"apiKey": ""}),
    (3, "elevenlabs-long", {"apiKey": "k" * 4097}),
    (3, "elevenlabs-unknown", {"apiKey": "sk_0123456789", "extraSecret": "leak-me-please-123"}),
    (4, "resend-both", {"apiKey": "re_0123456789abcdef", "webhookSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
    (4, "resend-missing", {"webhookSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
    (5, "github-anything", {"installationId": 123}),
    (6, "google-tokens", {"accessToken": "ya29.a0AfH6SMB", "refreshToken": "1//0gabcdef", "expiresAt": "2026-01-01T00:00:00Z",
                          "scopes": ["https://www.googleapis.com/auth/drive.file"]}),
    (6, "google-bad-time", {"accessToken": "ya29.a0AfH6SMB", "expiresAt": "yesterday-at-noon"}),
    (6, "google-bad-scopes", {"accessToken": "ya29.a0AfH6SMB", "scopes": ["ok", "with space", 3]}),
    (6, "google-offset-time", {"accessToken": "ya29.a0AfH6SMB", "expiresAt": "2026-06-30T23:59:60.123+02:00"}),
    (7, "telegram", {"botToken": "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ"}),
    (8, "nested", {"apiKey": {"nested": ["deep-secret-value-1"]}}),
]
for selector, name, payload in payloads:
    write("credential-payload", name, bytes([selector]) + json.dumps(payload).encode())
write("credential-payload", "not-an-object", bytes([3]) + b'["apiKey"]')

# methods: [calls-1][stub provider reply][per call: method index][per param: choice byte, then the value's bytes]
# [extra-param byte]
# (see Sources/CredsFuzzTargets/MethodCallGenerator.swift). Choice 100 is "well-formed"; the pools' indices:
METHODS = ["resolve", "events.verify", "health", "providers.list", "connections.upsert", "connections.get",
           "connections.list", "connections.revoke", "connections.delete", "policy.set", "policy.get", "members.set",
           "members.list", "grants.issue", "grants.revoke", "oauth.begin", "oauth.complete", "explain", "keys.status",
           "keys.rotate", "audit.list", "audit.verify", "stats", "admin:health", "admin:providers.list"]
WS = {"ws": 0, "other": 1, "unknown": 2, "kelvin": 3, "upper": 4, "long": 9}
PROVIDER = {"resend": 0, "fal": 1, "gemini": 2, "vercel-ai-gateway": 3, "elevenlabs": 4, "github": 5,
            "google-workspace": 6, "telegram": 7, "unknown": 9}
GRANT = {"all": 0, "resend": 1, "other": 2, "revoked": 3}
CONN = {"resend": 0, "fal": 1, "google": 2, "github": 3, "revoked": 4, "other-gemini": 5, "pending-google": 6}
ACTOR = {"alice": 0, "bob": 1, "mallory": 2, "nobody": 3, "kelvin-ish": 5}
TS = {"now": 0, "now-300": 1, "now+300": 2, "now-301": 3, "now+301": 4, "min": 7, "max": 8, "min+1": 9,
      "ms": 10, "min-seconds": 20}
SIG = {"valid": 0, "valid-second": 1, "bogus": 2}
INTS = {"0": 0, "1": 1, "-1": 2, "900": 5, "1000": 6, "1001": 7, "86400": 8, "86401": 9, "max": 10, "min": 11,
        "max-micros+1": 12, "min-micros-1": 13, "1e300": 17}
OMIT, WELL, HOSTILE, RAW = 0, 100, 220, 250

def well(*value):
    return [WELL, *value]

def headers(ts="now", sig="valid", msg=0, body=0, names=0, shape=0):
    return well(msg, TS[ts], body, SIG[sig], names, shape)

def call(method, *params, extra=0):
    out = [METHODS.index(method)]
    for p in params:
        out += p
    return out + [extra]

def reply(status=1, expires_in=0, expires_at=0, permissions=0, installations=0, total=0, error=0, flags=0):
    """What the stub provider answers; the indices follow MethodCallGenerator.providerReply()."""
    return [status, expires_in, expires_at, permissions, installations, total, error, flags]

UNAVAILABLE = [0]

def program(*calls, provider=UNAVAILABLE):
    return bytes([len(calls) - 1] + provider + [b for c in calls for b in c])

method_seeds = {
    # The two traps of issue 11: svix-timestamp at the ends of Int64 (now - timestamp overflowed).
    "verify-timestamp-int64-min": program(call("events.verify", well(WS["ws"]), well(PROVIDER["resend"]),
                                               well(GRANT["all"]), [OMIT], headers(ts="min"), well(0))),
    "verify-timestamp-int64-min-plus-1": program(call("events.verify", well(WS["ws"]), well(PROVIDER["resend"]),
                                                      well(GRANT["resend"]), well(CONN["resend"]), headers(ts="min+1"), well(0))),
    "verify-timestamp-int64-max": program(call("events.verify", well(WS["ws"]), well(PROVIDER["resend"]),
                                               well(GRANT["all"]), [OMIT], headers(ts="max"), well(0))),
    "verify-ok-then-replayed": program(
        call("events.verify", well(WS["ws"]), well(PROVIDER["resend"]), well(GRANT["all"]), [OMIT], headers(), well(0)),
        call("events.verify", well(WS["ws"]), well(PROVIDER["resend"]), well(GRANT["all"]), [OMIT], headers(), well(0))),
    "verify-bad-signature": program(call("events.verify", well(WS["ws"]), well(PROVIDER["resend"]), well(GRANT["resend"]),
                                         [OMIT], headers(sig="bogus"), well(1))),
    "verify-stale": program(call("events.verify", well(WS["ws"]), well(PROVIDER["resend"]), well(GRANT["all"]),
                                 [OMIT], headers(ts="now-301"), well(0))),
    "verify-missing-headers": program(call("events.verify", well(WS["ws"]), well(PROVIDER["resend"]), well(GRANT["all"]),
                                           [OMIT], headers(shape=7), well(0))),
    "verify-no-secret": program(call("events.verify", well(WS["ws"]), well(PROVIDER["fal"]), well(GRANT["all"]),
                                     [OMIT], headers(), well(0))),
    "resolve-resend": program(call("resolve", well(WS["ws"]), well(PROVIDER["resend"]), well(GRANT["all"]), [OMIT], [OMIT])),
    "resolve-fal-named": program(call("resolve", well(WS["ws"]), well(PROVIDER["fal"]), well(GRANT["all"]),
                                      well(CONN["fal"]), [OMIT])),
    "resolve-gemini-builtin": program(call("resolve", well(WS["ws"]), well(PROVIDER["gemini"]), well(GRANT["all"]), [OMIT], [OMIT])),
    "resolve-elevenlabs-byo-revoked": program(call("resolve", well(WS["ws"]), well(PROVIDER["elevenlabs"]), well(GRANT["all"]),
                                                   [OMIT], [OMIT])),
    "resolve-google-refresh-fails": program(call("resolve", well(WS["ws"]), well(PROVIDER["google-workspace"]),
                                                 well(GRANT["all"]), [OMIT], well(2, 0, 1))),
    # expires_in at the ends of Int64 in Google's refresh reply (now + expires_in * 1_000_000 overflowed).
    "resolve-google-refresh-expires-in-max": program(call("resolve", well(WS["ws"]), well(PROVIDER["google-workspace"]),
                                                          well(GRANT["all"]), [OMIT], [OMIT]), provider=reply(expires_in=5)),
    "resolve-google-refresh-expires-in-min": program(call("resolve", well(WS["ws"]), well(PROVIDER["google-workspace"]),
                                                          well(GRANT["all"]), [OMIT], [OMIT]), provider=reply(expires_in=6, flags=1)),
    "resolve-google-refresh-ok": program(call("resolve", well(WS["ws"]), well(PROVIDER["google-workspace"]),
                                              well(GRANT["all"]), [OMIT], well(1, 0)), provider=reply(expires_in=1, flags=1)),
    "resolve-google-invalid-grant": program(call("resolve", well(WS["ws"]), well(PROVIDER["google-workspace"]),
                                                 well(GRANT["all"]), [OMIT], [OMIT]), provider=reply(status=4, error=2)),
    "resolve-github-mint-ok": program(call("resolve", well(WS["ws"]), well(PROVIDER["github"]), well(GRANT["all"]),
                                           [OMIT], well(1, 1)), provider=reply(expires_at=1, permissions=1)),
    "resolve-github-mint-hostile": program(call("resolve", well(WS["ws"]), well(PROVIDER["github"]), well(GRANT["all"]),
                                                [OMIT], [OMIT]), provider=reply(expires_at=4, permissions=6)),
    "resolve-github-uninstalled": program(call("resolve", well(WS["ws"]), well(PROVIDER["github"]), well(GRANT["all"]),
                                               [OMIT], [OMIT]), provider=reply(status=5)),
    "resolve-github-redirect": program(call("resolve", well(WS["ws"]), well(PROVIDER["github"]), well(GRANT["all"]),
                                            [OMIT], [OMIT]), provider=reply(status=7, expires_at=1)),
    "oauth-github-listed": program(call("oauth.complete", well(1), well(0), well(0), [OMIT]),
                                   provider=reply(expires_in=2, installations=1, total=1)),
    "oauth-github-not-listed": program(call("oauth.complete", well(1), well(0), well(0), [OMIT]),
                                       provider=reply(expires_in=2, installations=5, total=6)),
    "oauth-github-pages-lie": program(call("oauth.complete", well(1), well(0), well(0), [OMIT]),
                                      provider=reply(expires_in=5, installations=5, total=3)),
    "oauth-google-exchange-ok": program(call("oauth.complete", well(0), well(0), [OMIT], [OMIT]),
                                        provider=reply(expires_in=1, flags=1)),
    "oauth-google-exchange-expires-in-max": program(call("oauth.complete", well(0), well(0), [OMIT], [OMIT]),
                                                    provider=reply(expires_in=5)),
    "resolve-github-mint-fails": program(call("resolve", well(WS["ws"]), well(PROVIDER["github"]), well(GRANT["all"]),
                                              well(CONN["github"]), [OMIT])),
    "resolve-kelvin-lookalike": program(call("resolve", well(WS["kelvin"]), well(PROVIDER["resend"]), well(GRANT["all"]),
                                             [OMIT], [OMIT])),
    "resolve-other-workspace-grant": program(call("resolve", well(WS["other"]), well(PROVIDER["gemini"]), well(GRANT["all"]),
                                                  [OMIT], [OMIT])),
    "resolve-other-connection": program(call("resolve", well(WS["ws"]), well(PROVIDER["gemini"]), well(GRANT["all"]),
                                             well(CONN["other-gemini"]), [OMIT])),
    "resolve-revoked-grant": program(call("resolve", well(WS["ws"]), well(PROVIDER["fal"]), well(GRANT["revoked"]), [OMIT], [OMIT])),
    "resolve-no-grant": program(call("resolve", well(WS["ws"]), well(PROVIDER["fal"]), [OMIT], [OMIT], [OMIT])),
    "resolve-hostile": program(call("resolve", [HOSTILE, 9], [HOSTILE, 2], [HOSTILE, 19, 30] + [0] * 30, [RAW, 0, 5] + list(b"conn_"),
                                    [HOSTILE, 18, 3] + [0x80] + [0] * 7 + [0x7f] + [0xff] * 7 + [0] * 8)),
    "health-both": program(call("health"), call("admin:health"), call("stats")),
    "providers": program(call("providers.list"), call("admin:providers.list")),
    "upsert-then-get-list": program(
        call("connections.upsert", well(WS["ws"]), well(PROVIDER["resend"]), well(0), well(2, 0, 0, 0), [OMIT], well(ACTOR["alice"])),
        call("connections.get", well(7), well(ACTOR["bob"])),
        call("connections.list", well(WS["ws"]), [OMIT], well(ACTOR["alice"]))),
    "upsert-google-import": program(call("connections.upsert", well(WS["ws"]), well(PROVIDER["google-workspace"]), well(0),
                                         well(0, 3, 0), [OMIT], well(ACTOR["alice"]))),
    "upsert-google-far-expiry": program(call("connections.upsert", well(WS["ws"]), well(PROVIDER["google-workspace"]), well(0),
                                             well(0, 7, 0), [OMIT], well(ACTOR["alice"]))),
    "upsert-by-reader": program(call("connections.upsert", well(WS["ws"]), well(PROVIDER["fal"]), well(0), well(1, 1, 0),
                                     well(CONN["fal"]), well(ACTOR["bob"]))),
    "upsert-other-workspace-id": program(call("connections.upsert", well(WS["ws"]), well(PROVIDER["gemini"]), well(0),
                                              well(1, 2, 0), well(CONN["other-gemini"]), well(ACTOR["alice"]))),
    "upsert-template-key": program(call("connections.upsert", well(WS["ws"]), well(PROVIDER["fal"]), well(0), well(1, 4, 0),
                                        well(CONN["fal"]), well(ACTOR["alice"])),
                                   call("resolve", well(WS["ws"]), well(PROVIDER["fal"]), well(GRANT["all"]), [OMIT], [OMIT])),
    "revoke-then-resolve": program(call("connections.revoke", well(CONN["resend"]), well(ACTOR["alice"])),
                                   call("resolve", well(WS["ws"]), well(PROVIDER["resend"]), well(GRANT["all"]), [OMIT], [OMIT])),
    "delete-other-workspace": program(call("connections.delete", well(CONN["other-gemini"]), well(ACTOR["alice"]))),
    "policy-set-get": program(call("policy.set", well(WS["ws"]), well(PROVIDER["fal"]), well(2), well(ACTOR["alice"]), [OMIT]),
                              call("policy.get", well(WS["ws"]), [OMIT], well(ACTOR["bob"]))),
    "members": program(call("members.set", well(WS["ws"]), well(ACTOR["nobody"]), well(1)), call("members.list", well(WS["ws"]))),
    "grants-issue-extremes": program(call("grants.issue", well(WS["ws"]), well(2, 0, 1), well(INTS["max"])),
                                     call("grants.issue", well(WS["ws"]), [OMIT], well(INTS["min"])),
                                     call("grants.issue", well(WS["ws"]), [OMIT], well(INTS["86400"]))),
    "grants-issue-revoke": program(call("grants.issue", well(WS["other"]), [OMIT], well(INTS["900"])),
                                   call("grants.revoke", well(4)),
                                   call("resolve", well(WS["other"]), well(PROVIDER["gemini"]), well(4), [OMIT], [OMIT])),
    "oauth-google-begin-complete": program(
        call("oauth.begin", well(WS["ws"]), well(PROVIDER["google-workspace"]), well(0), well(0), [OMIT], [OMIT], well(ACTOR["alice"])),
        call("oauth.complete", well(2), well(0), [OMIT], [OMIT])),
    "oauth-github-complete": program(call("oauth.complete", well(1), well(0), well(0), [OMIT])),
    "oauth-github-installation-extremes": program(call("oauth.complete", well(1), well(0), well(4), [OMIT])),
    "oauth-google-error": program(call("oauth.complete", well(0), [OMIT], [OMIT], well(2))),
    "oauth-state-reused": program(call("oauth.complete", well(0), well(0), [OMIT], [OMIT]),
                                  call("oauth.complete", well(0), well(0), [OMIT], [OMIT])),
    "explain": program(call("explain", well(WS["ws"]), well(PROVIDER["elevenlabs"]), [OMIT], well(ACTOR["bob"])),
                       call("explain", well(WS["ws"]), well(PROVIDER["fal"]), well(CONN["revoked"]), well(ACTOR["alice"]))),
    "keys": program(call("keys.status"), call("keys.rotate"), call("keys.status")),
    "audit": program(call("audit.list", well(INTS["min"]), well(INTS["max"]), well(WS["ws"]), [OMIT]),
                     call("audit.list", well(INTS["0"]), well(INTS["1000"]), [OMIT], [OMIT]), call("audit.verify")),
}
for name, data in method_seeds.items():
    write("methods", name, data)

# token-replies: [parser: 0 token grant, 1 GitHub installations page][clock: 0 2026, 1 now, 2 zero, 3 year 9999][body]
token_replies = {
    # The trap of issue 11: now + expires_in * 1_000_000 overflowed.
    "expires-in-int64-max": (0, 0, {"access_token": "ya29.a0", "expires_in": 9223372036854775807}),
    "expires-in-just-fits-multiply": (0, 0, {"access_token": "ya29.a0", "expires_in": 9223372036854}),
    "expires-in-int64-min": (0, 1, {"access_token": "ya29.a0", "expires_in": -9223372036854775808}),
    "expires-in-year-9999": (0, 3, {"access_token": "ya29.a0", "expires_in": 31622400}),
    "google-refresh": (0, 1, {"access_token": "ya29.a0AfH6", "expires_in": 3599, "scope": "https://www.googleapis.com/auth/drive.file",
                              "token_type": "Bearer"}),
    "google-exchange": (0, 0, {"access_token": "ya29.a0AfH6", "expires_in": 3599, "refresh_token": "1//0gAB",
                               "scope": "a b,c", "token_type": "Bearer", "id_token": "x.y.z"}),
    "github-user-token": (0, 0, {"access_token": "ghu_16C7e42F292c6912E7710c838347Ae178B4a", "expires_in": 28800,
                                 "refresh_token": "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
                                 "refresh_token_expires_in": 15811200, "scope": "", "token_type": "bearer"}),
    "expires-in-string": (0, 0, {"access_token": "t", "expires_in": "3600"}),
    "expires-in-fraction": (0, 0, {"access_token": "t", "expires_in": 3599.5}),
    "expires-in-huge-double": (0, 0, {"access_token": "t", "expires_in": 1e300}),
    "expires-in-negative": (0, 0, {"access_token": "t", "expires_in": -1}),
    "no-access-token": (0, 0, {"error": "invalid_grant", "error_description": "Bad Request"}),
    "empty-access-token": (0, 0, {"access_token": "", "expires_in": 3600}),
    "access-token-number": (0, 0, {"access_token": 12345, "expires_in": 3600}),
    "empty-refresh-and-scopes": (0, 0, {"access_token": "t", "refresh_token": "", "scope": " ,, "}),
    "not-an-object": (0, 0, ["access_token", "t"]),
    "installations-one": (1, 0, {"total_count": 1, "installations": [{"id": 4242, "app_id": 424242, "account": {"login": "octo"}}]}),
    "installations-empty": (1, 0, {"total_count": 0, "installations": []}),
    "installations-full-page": (1, 0, {"total_count": 250, "installations": [{"id": i, "app_id": 424242} for i in range(1, 101)]}),
    "installations-full-no-total": (1, 0, {"installations": [{"id": i} for i in range(100, 200)]}),
    "installations-total-lies": (1, 0, {"total_count": 9223372036854775807,
                                        "installations": [{"id": i, "app_id": 1} for i in range(100)]}),
    "installations-total-negative": (1, 0, {"total_count": -9223372036854775808, "installations": [{"id": 1}] * 100}),
    "installations-odd-ids": (1, 0, {"installations": [{"id": "4242"}, {"id": -1}, {"id": 9223372036854775807},
                                                       {"id": -9223372036854775808, "app_id": None}, {"id": 1.5}, {}, 7]}),
    "installations-not-array": (1, 0, {"installations": {"id": 1}}),
}
for name, (parser, clock, body) in token_replies.items():
    write("token-replies", name, bytes([parser, clock]) + json.dumps(body).encode())
