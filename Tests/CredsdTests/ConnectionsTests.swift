import CredsClient
import CredsProtocol
import Foundation
import Testing

@Suite("connections, members and policies over the admin socket")
struct ConnectionsTests {
    @Test("upsert, get, list, revoke and delete a connection")
    func lifecycle() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let created = try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "elevenlabs", "displayName": "Voice",
                "credentialPayload": ["apiKey": "sk_eleven_1"], "actor": "alice",
            ]
        )
        let connection = try #require(created["connection"])
        let id = try #require(connection["id"]?.stringValue)
        #expect(id.hasPrefix("conn_"))
        #expect(connection["status"] == "active")
        #expect(connection["mode"] == "service")
        #expect(connection["displayName"] == "Voice")
        #expect(created["warnings"] == [])

        #expect(
            try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])["connection"]
                == connection)
        let listed = try daemon.adminCall("connections.list", ["workspaceId": "ws1", "actor": "alice"])
        #expect(listed["connections"] == [connection])
        #expect(
            try daemon.adminCall("connections.list", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])[
                "connections"] == [])

        let revoked = try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "alice"])
        #expect(revoked["connection"]?["status"] == "revoked")
        let keys = try daemon.adminCall("keys.status")
        #expect(keys["keys"]?.arrayValue?.first?["records"] == 0)

        #expect(
            try daemon.adminCall("connections.delete", ["connectionId": .string(id), "actor": "alice"])["deleted"]
                == true)
        #expect(
            reason { try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"]) }
                == "not_found")
        #expect(
            reason { try daemon.adminCall("connections.delete", ["connectionId": .string(id), "actor": "alice"]) }
                == "not_found")
    }

    @Test("a token import whose expiresAt is out of range is refused, and the daemon keeps serving (fuzz finding)")
    func absurdExpiryRefused() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        func importTokens(expiresAt: String) throws -> JSONValue {
            try daemon.adminCall(
                "connections.upsert",
                [
                    "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Imported", "actor": "alice",
                    "credentialPayload": [
                        "accessToken": "ya29.x", "refreshToken": "1//x", "expiresAt": .string(expiresAt),
                    ],
                ])
        }
        let refusal = remoteError { try importTokens(expiresAt: "2e26-01-01T00:00:00Z") }
        #expect(refusal?.reason == "invalid_credential")
        #expect(refusal?.data["fields"]?.arrayValue?.first?["field"] == "expiresAt")
        // The extremes RFC 3339 can write are accepted without overflow.
        for expiresAt in ["9999-12-31T23:59:60-23:59", "0000-01-01T00:00:00+23:59"] {
            #expect(try importTokens(expiresAt: expiresAt)["connection"]?["status"] != nil)
        }
        #expect(try daemon.adminCall("health")["status"] != nil)
    }

    @Test("update with connectionId keeps the id; another workspace's or provider's id is not_found")
    func updateRules() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        try daemon.addWriter(workspace: "ws2")
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "one"])
        let updated = try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "fal", "displayName": "Renamed", "connectionId": .string(id),
                "credentialPayload": ["apiKey": "two"], "actor": "alice",
            ]
        )
        #expect(updated["connection"]?["id"] == .string(id))
        #expect(updated["connection"]?["displayName"] == "Renamed")
        for (workspace, provider) in [("ws2", "fal"), ("ws1", "gemini")] {
            let error = remoteError {
                try daemon.adminCall(
                    "connections.upsert",
                    [
                        "workspaceId": .string(workspace), "provider": .string(provider), "displayName": "X",
                        "connectionId": .string(id), "credentialPayload": ["apiKey": "three"], "actor": "alice",
                    ]
                )
            }
            #expect(error?.reason == "not_found")
        }
        #expect(
            reason {
                try daemon.adminCall(
                    "connections.upsert",
                    [
                        "workspaceId": "ws1", "provider": "fal", "displayName": "X", "connectionId": "conn_missing",
                        "credentialPayload": ["apiKey": "x"], "actor": "alice",
                    ]
                )
            } == "not_found")
    }

    @Test("actors need read to read and write to write; members can be listed and removed")
    func actorRoles() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        try daemon.adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "read"])
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "k"])
        let upsertAsBob: [String: JSONValue] = [
            "workspaceId": "ws1", "provider": "fal", "displayName": "B", "credentialPayload": ["apiKey": "b"],
            "actor": "bob",
        ]
        #expect(reason { try daemon.adminCall("connections.upsert", upsertAsBob) } == "forbidden")
        #expect(
            reason { try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "bob"]) }
                == "forbidden")
        #expect(
            reason {
                try daemon.adminCall(
                    "policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "bob"])
            } == "forbidden")
        #expect(
            try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "bob"])["connection"]?["id"]
                == .string(id))
        #expect(
            try daemon.adminCall("policy.get", ["workspaceId": "ws1", "provider": "fal", "actor": "bob"])["mode"]
                == "auto")
        #expect(
            reason { try daemon.adminCall("connections.list", ["workspaceId": "ws1", "actor": "mallory"]) }
                == "forbidden")
        #expect(
            reason { try daemon.adminCall("explain", ["workspaceId": "ws1", "provider": "fal", "actor": "mallory"]) }
                == "forbidden")
        #expect(reason { try daemon.adminCall("connections.list", ["workspaceId": "ws1"]) } == "invalid_params")

        let members = try daemon.adminCall("members.list", ["workspaceId": "ws1"])
        #expect(
            members["members"] == [["principal": "alice", "role": "write"], ["principal": "bob", "role": "read"]])
        try daemon.adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "none"])
        #expect(
            reason { try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "bob"]) }
                == "forbidden")
        #expect(
            reason { try daemon.adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "admin"]) }
                == "invalid_params")
    }

    @Test("policies: set and get one or all; OAuth and unknown providers have none")
    func policies() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        try daemon.adminCall(
            "policy.set", ["workspaceId": "ws1", "provider": "gemini", "mode": "byo", "actor": "alice"])
        let all = try daemon.adminCall("policy.get", ["workspaceId": "ws1", "actor": "alice"])
        #expect(
            all["policies"] == [
                "fal": "auto", "gemini": "byo", "vercel-ai-gateway": "auto", "elevenlabs": "auto", "resend": "auto",
            ])
        #expect(
            reason {
                try daemon.adminCall(
                    "policy.set", ["workspaceId": "ws1", "provider": "gemini", "mode": "sometimes", "actor": "alice"])
            } == "invalid_params")
        #expect(
            reason {
                try daemon.adminCall(
                    "policy.set", ["workspaceId": "ws1", "provider": "github", "mode": "byo", "actor": "alice"])
            } == "invalid_params")
        #expect(
            reason {
                try daemon.adminCall(
                    "policy.set", ["workspaceId": "ws1", "provider": "nope", "mode": "byo", "actor": "alice"])
            } == "unknown_provider")
        #expect(
            reason {
                try daemon.adminCall("policy.get", ["workspaceId": "ws1", "provider": "telegram", "actor": "alice"])
            } == "provider_not_connectable")
    }

    @Test("writes to unknown, unconnectable and OAuth providers are refused with clear reasons")
    func providerRefusals() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        func upsert(_ provider: String) -> CredsRemoteError? {
            remoteError {
                try daemon.adminCall(
                    "connections.upsert",
                    [
                        "workspaceId": "ws1", "provider": .string(provider), "displayName": "X",
                        "credentialPayload": ["apiKey": "k"], "actor": "alice",
                    ]
                )
            }
        }
        #expect(upsert("nope")?.reason == "unknown_provider")
        #expect(upsert("telegram")?.reason == "provider_not_connectable")
        #expect(upsert("openclaw")?.reason == "provider_not_connectable")
        let github = upsert("github")
        #expect(github?.reason == "invalid_params")
        #expect(github?.message.contains("oauth.begin") == true)
        #expect(upsert("google-workspace")?.reason == "invalid_credential")
    }

    @Test("a malformed credential is refused field by field and nothing is stored")
    func invalidCredential() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let error = remoteError {
            try daemon.adminCall(
                "connections.upsert",
                [
                    "workspaceId": "ws1", "provider": "resend", "displayName": "R",
                    "credentialPayload": ["apiKey": "re_bad key", "webhookSecret": 5, "extra": "x"], "actor": "alice",
                ]
            )
        }
        #expect(error?.reason == "invalid_credential")
        let fields = error?.data["fields"]?.arrayValue ?? []
        let problems = Dictionary(
            uniqueKeysWithValues: fields.map { ($0["field"]!.stringValue!, $0["problem"]!.stringValue!) })
        #expect(problems == ["apiKey": "whitespace", "webhookSecret": "wrong_type", "extra": "unknown_field"])
        #expect(error?.message.contains("re_bad") == false)
        #expect(
            try daemon.adminCall("connections.list", ["workspaceId": "ws1", "actor": "alice"])["connections"] == [])
        #expect(
            reason {
                try daemon.adminCall(
                    "connections.upsert",
                    [
                        "workspaceId": "ws1", "provider": "fal", "displayName": "",
                        "credentialPayload": ["apiKey": "k"], "actor": "alice",
                    ]
                )
            } == "invalid_params")
        #expect(
            reason {
                try daemon.adminCall(
                    "connections.upsert",
                    [
                        "workspaceId": "ws1", "provider": "fal", "displayName": "F", "credentialPayload": "k",
                        "actor": "alice",
                    ]
                )
            } == "invalid_params")
    }

    @Test("a key of unknown shape is stored with a warning")
    func unknownShapeWarns() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let result = try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "gemini", "displayName": "G",
                "credentialPayload": ["apiKey": "new-format-key"], "actor": "alice",
            ]
        )
        #expect(result["connection"]?["status"] == "active")
        #expect(result["warnings"]?.arrayValue?.first?["field"] == "apiKey")
        #expect(result["warnings"]?.arrayValue?.first?["problem"] == "unknown_shape")
    }

    @Test("explain shows what resolve would decide, without the credential")
    func explain() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal"])
        try daemon.addWriter()
        var result = try daemon.adminCall("explain", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])
        #expect(result["source"] == "built_in")
        #expect(result["fallbackReason"] == "no_connection")
        #expect(result["ok"] == true)
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "own-fal-key"])
        result = try daemon.adminCall("explain", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"])
        #expect(result["source"] == "byo")
        #expect(result["connectionId"] == .string(id))
        #expect(result["credential"] == nil)
        #expect(!String(decoding: result.serialized(), as: UTF8.self).contains("own-fal-key"))
        result = try daemon.adminCall("explain", ["workspaceId": "ws1", "provider": "elevenlabs", "actor": "alice"])
        #expect(result["ok"] == false)
        #expect(result["reason"] == "no_credential")
    }

    @Test("without a master key: health is degraded and upsert fails fast")
    func noMasterKey() throws {
        let daemon = try DaemonFixture(withKey: false, builtin: ["fal": "platform"])
        let health = try daemon.adminCall("health")
        #expect(health["status"] == "degraded")
        #expect(health["encryption"] == "missing")
        try daemon.addWriter()
        #expect(reason { try daemon.upsert(provider: "fal", payload: ["apiKey": "k"]) } == "encryption_key_missing")
        let grant = try daemon.grant()
        #expect(
            try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])[
                "source"] == "built_in")
    }

    @Test("connections, members and policies survive a restart")
    func persistence() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "vercel-ai-gateway", payload: ["apiKey": "vck_persist"])
        try daemon.adminCall(
            "policy.set", ["workspaceId": "ws1", "provider": "vercel-ai-gateway", "mode": "byo", "actor": "alice"])
        #expect(daemon.stop() == 0)
        try daemon.start()
        let grant = try daemon.grant()
        let result = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws1", "provider": "vercel-ai-gateway", "grant": .string(grant)]
        )
        #expect(result["connectionId"] == .string(id))
        #expect(result["policy"] == "byo")
        #expect(result["credential"] == ["apiKey": "vck_persist"])
    }

    @Test("no admin answer ever contains a stored secret")
    func noSecretInAdminAnswers() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-secret-fal"])
        try daemon.addWriter()
        let apiKey = "re_SuperSecretValue123"
        let webhook = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
        let id = try daemon.upsert(
            provider: "resend", payload: ["apiKey": .string(apiKey), "webhookSecret": .string(webhook)])
        let admin = try daemon.admin()
        var answers: [JSONValue] = []
        answers.append(try admin.call("connections.get", ["connectionId": .string(id), "actor": "alice"]))
        answers.append(try admin.call("connections.list", ["workspaceId": "ws1", "actor": "alice"]))
        answers.append(try admin.call("explain", ["workspaceId": "ws1", "provider": "resend", "actor": "alice"]))
        answers.append(try admin.call("explain", ["workspaceId": "ws1", "provider": "fal", "actor": "alice"]))
        answers.append(try admin.call("keys.status"))
        answers.append(try admin.call("health"))
        answers.append(try admin.call("providers.list"))
        answers.append(try admin.call("connections.revoke", ["connectionId": .string(id), "actor": "alice"]))
        let text = answers.map { String(decoding: $0.serialized(), as: UTF8.self) }.joined()
        for secret in daemon.secrets + [apiKey, webhook] {
            #expect(!text.contains(secret), "an admin answer contains a secret")
        }
        #expect(!daemon.daemonLog.contains(apiKey))
    }
}
