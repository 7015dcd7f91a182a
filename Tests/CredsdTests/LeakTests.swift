import CredsClient
import CredsCrypto
import CredsProtocol
import Foundation
import Testing

@Suite("no secret leaves credsd except in a resolve answer")
struct LeakTests {
    /// The forms a secret could leak in: as is, base64 and hex of its text, hex of what its base64 decodes to.
    static func forms(of secret: String) -> [String] {
        let bytes = Array(secret.utf8)
        var forms = [secret, bytes.withUnsafeBytes { Base64.encode($0) }, Hex.encode(bytes)]
        if let decoded = Base64.decode(secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret),
            decoded.count >= 8
        {
            forms.append(Hex.encode(decoded))
            forms.append(Base64.encodeURLSafe(decoded))
        }
        return forms
    }

    @Test("keys, tokens, grants, master keys and webhook secrets never reach logs, audit, errors or the store in clear")
    func sweep() throws {
        // A provider stand-in for probes (it rejects every key) and a webhook receiver: what reaches them is
        // swept too (probes must carry the key; nothing else may).
        let receiver = try FakeHTTPServer { _ in FakeHTTPServer.Response(status: 401, body: "{}") }
        let secretsDirectory = TemporaryDirectory()
        let webhookSecretFile = secretsDirectory.write(
            "webhook.secret", "whsec_bGVha2NoZWNrd2ViaG9va2RlbGl2ZXJ5a2V5\n", mode: 0o600)
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: """
                [webhooks]
                url = "\(receiver.baseURL)/hooks"
                secretFile = "\(webhookSecretFile)"

                [providers.elevenlabs]
                baseUrl = "\(receiver.baseURL)"
                """,
            builtin: ["fal": "platform-fal-9f8e7d6c5b4a", "gemini": "AIzaPlatformGeminiSecret00000000000000"],
            logLevel: "trace")
        daemon.remember("bGVha2NoZWNrd2ViaG9va2RlbGl2ZXJ5a2V5")
        // The secret file must outlive the daemon's restart below.
        defer { withExtendedLifetime(secretsDirectory) {} }
        try daemon.addWriter()
        var outputs: [String] = []
        func keep(_ error: CredsRemoteError?) {
            if let error {
                outputs.append(
                    error.description + String(decoding: JSONValue.object(error.data).serialized(), as: UTF8.self))
            }
        }
        let apiKeys = ["re_LeakCheckKey_123456", "sk_eleven_leakcheck_abcdef", "vck_leakcheck_gateway_key"]
        let webhook = "whsec_bGVha2NoZWNrd2ViaG9va3NlY3JldDEyMzQ1Ng=="
        let resend = try daemon.upsert(
            provider: "resend", payload: ["apiKey": .string(apiKeys[0]), "webhookSecret": .string(webhook)])
        let eleven = try daemon.upsert(provider: "elevenlabs", payload: ["apiKey": .string(apiKeys[1])])
        try daemon.upsert(provider: "vercel-ai-gateway", payload: ["apiKey": .string(apiKeys[2])])
        let grant = try daemon.grant()
        let limited = try daemon.grant(providers: ["fal"])
        daemon.remember(webhook)
        apiKeys.forEach(daemon.remember)

        let resolver = try daemon.resolver()
        for provider in ["resend", "elevenlabs", "vercel-ai-gateway", "fal", "gemini"] {
            _ = try resolver.call(
                "resolve", ["workspaceId": "ws1", "provider": .string(provider), "grant": .string(grant)])
        }
        keep(
            remoteError {
                try resolver.call("resolve", ["workspaceId": "ws1", "provider": "gemini", "grant": .string(limited)])
            })
        keep(
            remoteError {
                try resolver.call(
                    "resolve", ["workspaceId": "ws1", "provider": "gemini", "grant": .string(grant + "x")])
            })
        keep(
            remoteError {
                try resolver.call(
                    "resolve",
                    ["workspaceId": "ws1", "provider": "fal", "grant": .string(grant), "connectionId": .string(resend)])
            })
        keep(
            remoteError {
                try resolver.call(
                    "events.verify",
                    [
                        "workspaceId": "ws1", "provider": "resend", "grant": .string(grant), "body": "{}",
                        "headers": [
                            "svix-id": "m", "svix-timestamp": .string(String(Int(Date().timeIntervalSince1970))),
                            "svix-signature": "v1,AAAA",
                        ],
                    ])
            })
        keep(
            remoteError {
                try daemon.adminCall(
                    "connections.upsert",
                    [
                        "workspaceId": "ws1", "provider": "elevenlabs", "displayName": "bad",
                        "credentialPayload": ["apiKey": .string(apiKeys[1] + " with space")], "actor": "alice",
                    ])
            })
        keep(
            remoteError {
                try daemon.adminCall(
                    "connections.upsert",
                    [
                        "workspaceId": "ws1", "provider": "elevenlabs", "displayName": "bad",
                        "credentialPayload": ["apiKey": .string(apiKeys[1]), "token": .string(apiKeys[2])],
                        "actor": "mallory",
                    ])
            })
        keep(remoteError { try daemon.adminCall("grants.revoke", ["grant": .string(grant + "nope")]) })
        try daemon.adminCall("grants.revoke", ["grant": .string(limited)])
        // Health: reports, a probe that rejects the key (an error status, events, webhooks).
        for outcome in ["rate_limited", "unauthorized", "unauthorized", "unauthorized"] {
            _ = try resolver.call(
                "resolve.report",
                [
                    "workspaceId": "ws1", "provider": "vercel-ai-gateway", "grant": .string(grant), "source": "byo",
                    "outcome": .string(outcome), "httpStatus": 401,
                ])
        }
        outputs.append(
            String(
                decoding: try daemon.adminCall("connections.test", ["connectionId": .string(eleven), "actor": "alice"])
                    .serialized(), as: UTF8.self))
        try eventually {
            guard receiver.requests.contains(where: { $0.uri == "/hooks" }) else { throw Pending() }
        }
        let rotatedKey = daemon.makeKey(named: "rotated.key")
        daemon.stop()
        daemon.setKeys([rotatedKey] + daemon.keyFiles)
        try daemon.start()
        try daemon.adminCall("keys.rotate")
        Thread.sleep(forTimeInterval: 0.3)

        let admin = try daemon.admin()
        for method in ["health", "keys.status", "audit.list", "audit.verify", "providers.list", "stats", "events.list"]
        {
            outputs.append(String(decoding: try admin.call(method).serialized(), as: UTF8.self))
        }
        outputs.append(String(decoding: try admin.call("audit.list", ["limit": 1000]).serialized(), as: UTF8.self))
        outputs.append(
            String(
                decoding: try admin.call("connections.list", ["workspaceId": "ws1", "actor": "alice"]).serialized(),
                as: UTF8.self))
        daemon.stop()
        outputs.append(daemon.daemonLog)
        // Webhook bodies and headers; the probe's own request carries its key by design, and is left out.
        for request in receiver.requests where request.uri == "/hooks" {
            outputs.append(String(decoding: request.body, as: UTF8.self))
            outputs.append(request.headers.map { "\($0.0): \($0.1)" }.joined(separator: "\n"))
        }
        let store = try Data(contentsOf: URL(fileURLWithPath: daemon.dataDir + "/data.mdb"))
        let storeText = String(decoding: store, as: UTF8.self)

        #expect(daemon.secrets.count >= 10)
        #expect(daemon.daemonLog.contains("credsd listening"))
        for secret in daemon.secrets {
            for form in Self.forms(of: secret) {
                for output in outputs {
                    #expect(!output.contains(form), "a secret leaked into an answer or the log")
                }
                #expect(
                    !storeText.contains(form) && store.range(of: Data(form.utf8)) == nil,
                    "a secret is in the store in clear")
            }
        }
    }

    @Test(
        "OAuth client secrets, refresh tokens and access tokens never reach logs, audit, errors or the store in clear")
    func oauthSweep() throws {
        let provider = try FakeOAuthProvider()
        provider.configure {
            $0.rotateRefreshTokens = true
            $0.expiresIn = 60
        }
        let daemon = try DaemonFixture(
            mode: .process,
            configExtra: "[resolve]\nrequireGrant = false\n\n" + provider.configSections(), logLevel: "trace"
        )
        try daemon.addWriter()
        let begun = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive",
                "redirectUri": "https://app.example/oauth/callback", "actor": "alice",
            ])
        let url = begun["authorizationUrl"]!.stringValue!
        let challenge = FakeOAuthProvider.parseForm(String(url.split(separator: "?").last!))["code_challenge"]!
        provider.configure { $0.codes["leak-code"] = challenge }
        try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": "leak-code"])
        var tokens: [String] = []
        for _ in 0..<2 {
            let answer = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"])
            tokens.append(answer["credential"]!["accessToken"]!.stringValue!)
        }
        let gh = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "github", "displayName": "Repos",
                "redirectUri": "https://app.example/oauth/callback", "actor": "alice",
            ])
        try daemon.adminCall("oauth.complete", ["state": gh["state"]!, "installationId": 31337, "code": "gh-code"])
        tokens.append(
            try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "github"])["credential"]![
                "accessToken"]!.stringValue!)
        provider.configure { $0.behaviour = .invalidGrant }
        let refusal = remoteError {
            try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"])
        }
        #expect(refusal?.reason == "reauth_required")
        Thread.sleep(forTimeInterval: 0.3)
        let audit = String(decoding: try daemon.adminCall("audit.list", ["limit": 1000]).serialized(), as: UTF8.self)
        let listed = String(
            decoding: try daemon.adminCall("connections.list", ["workspaceId": "ws1", "actor": "alice"]).serialized(),
            as: UTF8.self)
        daemon.stop()
        let store = try Data(contentsOf: URL(fileURLWithPath: daemon.dataDir + "/data.mdb"))
        let secrets =
            [
                FakeOAuthProvider.clientSecret, FakeOAuthProvider.githubClientSecret, "1//refresh-1", "1//refresh-2",
                "1//refresh-3", "ghu_user_", "ghr_", begun["state"]!.stringValue!,
            ] + tokens
        let outputs = [daemon.daemonLog, audit, listed, refusal.map { "\($0)\($0.data)" } ?? ""]
        for secret in secrets {
            for form in Self.forms(of: secret) {
                for output in outputs { #expect(!output.contains(form), "a secret leaked") }
                #expect(store.range(of: Data(form.utf8)) == nil, "a secret is in the store in clear")
            }
        }
    }

    @Test("the daemon process is not dumpable and may not write a core file")
    func noCoreDumps() throws {
        let daemon = try DaemonFixture(mode: .process)
        let pid = try #require(daemon.pid)
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let coreLine = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") })
        #expect(coreLine.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2) == ["0", "0"])
        #expect(daemon.daemonLog.contains("process.dumpable=0"))
    }
}
