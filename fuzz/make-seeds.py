#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/ (committed; rerun only to change the seeds).

frame-decoder:      [limit selector][piece-size selector][byte stream]
rpc-request:        one frame payload
credential-payload: [provider selector (catalog order)][payload JSON]
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
