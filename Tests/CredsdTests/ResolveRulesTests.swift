import CredsClient
import CredsProtocol
import Testing

@Suite("resolution rules over the resolve socket")
struct ResolveRulesTests {
    static let falKey = "6f1c2a3b-1111-4222-8333-944455556666:0123456789abcdef0123456789abcdef"

    @Test("a workspace's own key is served with the provider's header")
    func byoKeyIsServed() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": .string(Self.falKey)])
        let grant = try daemon.grant()
        let result = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
        #expect(result["source"] == "byo")
        #expect(result["policy"] == "auto")
        #expect(result["mode"] == "service")
        #expect(result["connectionId"] == .string(id))
        #expect(result["credential"] == ["apiKey": .string(Self.falKey)])
        #expect(result["headers"] == ["Authorization": .string("Key \(Self.falKey)")])
        #expect(result["fallbackReason"] == nil)
    }

    @Test(
        "each API-key provider answers its own auth header",
        arguments: [
            ("fal", "Authorization", "Key "),
            ("gemini", "x-goog-api-key", ""),
            ("vercel-ai-gateway", "Authorization", "Bearer "),
            ("elevenlabs", "xi-api-key", ""),
            ("resend", "Authorization", "Bearer "),
        ])
    func providerHeaders(provider: String, header: String, prefix: String) throws {
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        let key = "key-for-\(provider)-123"
        try daemon.upsert(provider: provider, payload: ["apiKey": .string(key)])
        let result = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": .string(provider)])
        #expect(result["headers"] == .object([header: .string(prefix + key)]))
    }

    @Test("auto falls back to the built-in key with the reason why")
    func autoFallsBack() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal-key"])
        try daemon.addWriter()
        let grant = try daemon.grant()
        let params: [String: JSONValue] = ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)]

        var result = try daemon.resolveCall("resolve", params)
        #expect(result["source"] == "built_in")
        #expect(result["connectionId"] == .null)
        #expect(result["fallbackReason"] == "no_connection")
        #expect(result["credential"] == ["apiKey": "platform-fal-key"])

        let id = try daemon.upsert(provider: "fal", payload: ["apiKey": "own-key"])
        result = try daemon.resolveCall("resolve", params)
        #expect(result["source"] == "byo")
        #expect(result["credential"] == ["apiKey": "own-key"])

        try daemon.adminCall("connections.revoke", ["connectionId": .string(id), "actor": "alice"])
        result = try daemon.resolveCall("resolve", params)
        #expect(result["source"] == "built_in")
        #expect(result["fallbackReason"] == "connection_revoked")
    }

    @Test("built_in always uses the platform key, and says so when there is none")
    func builtInPolicy() throws {
        let daemon = try DaemonFixture(builtin: ["gemini": "platform-gemini"])
        try daemon.addWriter()
        try daemon.upsert(provider: "gemini", payload: ["apiKey": "own-gemini"])
        try daemon.upsert(provider: "fal", payload: ["apiKey": "own-fal"])
        for provider in ["gemini", "fal"] {
            try daemon.adminCall(
                "policy.set",
                ["workspaceId": "ws1", "provider": .string(provider), "mode": "built_in", "actor": "alice"]
            )
        }
        let grant = try daemon.grant()
        let result = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws1", "provider": "gemini", "grant": .string(grant)])
        #expect(result["source"] == "built_in")
        #expect(result["policy"] == "built_in")
        #expect(result["credential"] == ["apiKey": "platform-gemini"])
        let error = remoteError {
            try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
        }
        #expect(error?.reason == "builtin_unavailable")
    }

    @Test("byo never falls back; auto without a platform key has no credential")
    func byoAndAutoWithoutKeys() throws {
        let daemon = try DaemonFixture(builtin: ["fal": "platform-fal"])
        try daemon.addWriter()
        try daemon.adminCall("policy.set", ["workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"])
        let grant = try daemon.grant()
        #expect(
            reason {
                try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant)])
            } == "no_credential")
        #expect(
            reason {
                try daemon.resolveCall(
                    "resolve", ["workspaceId": "ws1", "provider": "elevenlabs", "grant": .string(grant)])
            } == "no_credential")
    }

    @Test("the most recently updated active connection wins; a named one is used as asked")
    func connectionChoice() throws {
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        let first = try daemon.upsert(provider: "elevenlabs", payload: ["apiKey": "first"])
        let second = try daemon.upsert(provider: "elevenlabs", payload: ["apiKey": "second"])
        var result = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "elevenlabs"])
        #expect(result["connectionId"] == .string(second))
        try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "elevenlabs", "displayName": "First again",
                "credentialPayload": ["apiKey": "first-rotated"], "connectionId": .string(first), "actor": "alice",
            ]
        )
        result = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "elevenlabs"])
        #expect(result["connectionId"] == .string(first))
        #expect(result["credential"] == ["apiKey": "first-rotated"])
        result = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws1", "provider": "elevenlabs", "connectionId": .string(second)]
        )
        #expect(result["credential"] == ["apiKey": "second"])
    }

    @Test("a named connection must belong to the workspace and provider, and be active")
    func namedConnectionChecks() throws {
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n", builtin: ["fal": "platform"])
        try daemon.addWriter()
        try daemon.addWriter(workspace: "ws2")
        let other = try daemon.upsert(provider: "fal", payload: ["apiKey": "other"], workspace: "ws2")
        let revoked = try daemon.upsert(provider: "fal", payload: ["apiKey": "mine"])
        try daemon.adminCall("connections.revoke", ["connectionId": .string(revoked), "actor": "alice"])
        #expect(
            reason {
                try daemon.resolveCall(
                    "resolve", ["workspaceId": "ws1", "provider": "fal", "connectionId": .string(other)])
            } == "not_found")
        #expect(
            reason {
                try daemon.resolveCall(
                    "resolve", ["workspaceId": "ws1", "provider": "gemini", "connectionId": .string(revoked)])
            } == "not_found")
        let error = remoteError {
            try daemon.resolveCall(
                "resolve", ["workspaceId": "ws1", "provider": "fal", "connectionId": .string(revoked)])
        }
        #expect(error?.reason == "connection_unavailable")
        #expect(error?.data["status"] == "revoked")
    }

    @Test("resolve never returns the Resend webhook secret")
    func webhookSecretStaysInside() throws {
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n")
        try daemon.addWriter()
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        try daemon.upsert(provider: "resend", payload: ["apiKey": "re_123abc", "webhookSecret": .string(secret)])
        let result = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "resend"])
        #expect(result["credential"] == ["apiKey": "re_123abc"])
        #expect(!String(decoding: result.serialized(), as: UTF8.self).contains(secret))
    }

    @Test("unknown and unconnectable providers are refused on resolve")
    func providerRefusals() throws {
        let daemon = try DaemonFixture(configExtra: "[resolve]\nrequireGrant = false\n")
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "nope"]) }
                == "unknown_provider")
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "telegram"]) }
                == "provider_not_connectable")
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "openclaw"]) }
                == "provider_not_connectable")
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "github"]) }
                == "no_credential")
        #expect(reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1"]) } == "invalid_params")
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "fal", "bogus": 1]) }
                == "invalid_params")
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": 7, "provider": "fal"]) } == "invalid_params")
    }
}
