import CredsClient
import CredsCrypto
import CredsProtocol
import Foundation
import Testing

@Suite("OAuth connections: flows, refresh, re-auth, GitHub installation tokens")
struct OAuthTests {
    static let redirect = "https://app.example/oauth/callback"

    /// A daemon configured against a fresh fake provider; grants not required so tests stay short.
    private func setUp(extra: String = "") throws -> (DaemonFixture, FakeOAuthProvider) {
        let provider = try FakeOAuthProvider()
        let daemon = try DaemonFixture(
            configExtra: "[resolve]\nrequireGrant = false\n\n" + extra + provider.configSections()
        )
        daemon.remember(FakeOAuthProvider.clientSecret)
        daemon.remember(FakeOAuthProvider.githubClientSecret)
        try daemon.addWriter()
        return (daemon, provider)
    }

    private func query(_ url: String) -> [String: String] {
        FakeOAuthProvider.parseForm(String(url.split(separator: "?", maxSplits: 1).last ?? ""))
    }

    /// Runs the Google flow to an active connection; returns its id.
    private func connectGoogle(_ daemon: DaemonFixture, _ provider: FakeOAuthProvider, scopes: [String]? = nil) throws
        -> String
    {
        var params: [String: JSONValue] = [
            "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive",
            "redirectUri": .string(Self.redirect), "actor": "alice",
        ]
        if let scopes { params["scopes"] = .array(scopes.map { .string($0) }) }
        let begun = try daemon.adminCall("oauth.begin", params)
        let url = try #require(begun["authorizationUrl"]?.stringValue)
        let challenge = try #require(query(url)["code_challenge"])
        provider.configure { $0.codes["code-\(challenge.prefix(6))"] = challenge }
        let done = try daemon.adminCall(
            "oauth.complete", ["state": begun["state"]!, "code": .string("code-\(challenge.prefix(6))")])
        #expect(done["connection"]?["status"] == "active", "\(provider.read { $0.problems })")
        return try #require(done["connection"]?["id"]?.stringValue)
    }

    /// Imports Google tokens that expire `expiresIn` seconds from now.
    @discardableResult
    private func importGoogle(_ daemon: DaemonFixture, _ provider: FakeOAuthProvider, expiresIn: TimeInterval) throws
        -> String
    {
        provider.configure { $0.refreshTokens.insert("1//imported-refresh") }
        daemon.remember("1//imported-refresh")
        daemon.remember("ya29.imported")
        let result = try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Imported", "actor": "alice",
                "credentialPayload": [
                    "accessToken": "ya29.imported", "refreshToken": "1//imported-refresh",
                    "expiresAt": .string(ISO8601DateFormatter().string(from: Date().addingTimeInterval(expiresIn))),
                    "scopes": ["https://www.googleapis.com/auth/drive.file"],
                ],
            ])
        #expect(result["connection"]?["mode"] == "oauth-user")
        return result["connection"]!["id"]!.stringValue!
    }

    private func resolveGoogle(_ daemon: DaemonFixture, scopes: [String]? = nil) throws -> JSONValue {
        var params: [String: JSONValue] = ["workspaceId": "ws1", "provider": "google-workspace"]
        if let scopes { params["requiredScopes"] = .array(scopes.map { .string($0) }) }
        return try daemon.resolveCall("resolve", params)
    }

    @Test("Google: begin builds a PKCE authorization URL; complete exchanges the code; resolve answers the token")
    func googleFlow() throws {
        let (daemon, provider) = try setUp()
        let begun = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive",
                "redirectUri": .string(Self.redirect), "scopes": ["https://www.googleapis.com/auth/drive.file"],
                "actor": "alice",
            ])
        let url = begun["authorizationUrl"]!.stringValue!
        #expect(url.hasPrefix(provider.baseURL + "/o/oauth2/v2/auth?"))
        let items = query(url)
        #expect(items["client_id"] == FakeOAuthProvider.clientId)
        #expect(items["redirect_uri"] == Self.redirect)
        #expect(items["response_type"] == "code")
        #expect(items["scope"] == "https://www.googleapis.com/auth/drive.file")
        #expect(items["state"] == begun["state"]?.stringValue)
        #expect(items["code_challenge_method"] == "S256")
        #expect(items["access_type"] == "offline")
        #expect(items["prompt"] == "consent")
        #expect(items["include_granted_scopes"] == "true")
        let id = begun["connectionId"]!.stringValue!
        #expect(
            try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])["connection"]?[
                "status"] == "pending")

        let challenge = items["code_challenge"]!
        provider.configure { $0.codes["the-code"] = challenge }
        let done = try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": "the-code"])
        #expect(provider.read { $0.problems } == [])
        #expect(done["connection"]?["status"] == "active")
        #expect(done["connection"]?["scopes"]?.arrayValue?.count == 2)
        #expect(
            reason { try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": "the-code"]) }
                == "invalid_state")

        let resolved = try resolveGoogle(daemon)
        #expect(resolved["source"] == "byo")
        #expect(resolved["policy"] == .null)
        #expect(resolved["mode"] == "oauth-user")
        #expect(resolved["connectionId"] == .string(id))
        #expect(resolved["credential"] == ["accessToken": "ya29.access-1", "tokenType": "Bearer"])
        #expect(resolved["headers"] == ["Authorization": "Bearer ya29.access-1"])
        #expect(resolved["expiresAt"]?.stringValue != nil)
        #expect(resolved["scopes"]?.arrayValue?.count == 2)
        #expect(!String(decoding: resolved.serialized(), as: UTF8.self).contains("1//refresh"))
        #expect(provider.read { $0.refreshCalls } == 0)
        #expect(!daemon.daemonLog.contains("1//refresh") && !daemon.daemonLog.contains(FakeOAuthProvider.clientSecret))
    }

    @Test("a state is single-use, expires, and survives a restart in the middle of a flow")
    func stateLifecycle() throws {
        let (daemon, provider) = try setUp()
        #expect(
            reason { try daemon.adminCall("oauth.complete", ["state": "st_unknown", "code": "x"]) } == "invalid_state")
        let begun = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive",
                "redirectUri": .string(Self.redirect), "actor": "alice",
            ])
        try daemon.restart()
        let challenge = query(begun["authorizationUrl"]!.stringValue!)["code_challenge"]!
        provider.configure { $0.codes["after-restart"] = challenge }
        let done = try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": "after-restart"])
        #expect(done["connection"]?["status"] == "active")

        let second = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "github", "displayName": "Repo",
                "redirectUri": .string(Self.redirect),
                "actor": "alice",
            ])
        daemon.stop()
        let surgery = try StoreSurgery(dataDir: daemon.dataDir)
        let key = Digest.sha256(second["state"]!.stringValue!.utf8)
        var record = try surgery.json("oauth_states", key)
        record["expiresAt"] = .int(Int64(Date().timeIntervalSince1970 * 1_000_000) - 1)
        try surgery.putJSON("oauth_states", key, record)
        surgery.close()
        try daemon.start()
        #expect(
            reason {
                try daemon.adminCall(
                    "oauth.complete", ["state": second["state"]!, "installationId": 5, "code": "gh-code"])
            } == "invalid_state")
    }

    @Test("an error from the provider sets status error with lastError")
    func providerError() throws {
        let (daemon, _) = try setUp()
        let begun = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive",
                "redirectUri": .string(Self.redirect), "actor": "alice",
            ])
        let done = try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "error": "access_denied"])
        #expect(done["connection"]?["status"] == "error")
        #expect(done["connection"]?["lastError"]?.stringValue?.contains("access_denied") == true)
        let bad = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive",
                "redirectUri": .string(Self.redirect), "actor": "alice",
            ])
        let refused = try daemon.adminCall("oauth.complete", ["state": bad["state"]!, "code": "never-issued"])
        #expect(refused["connection"]?["status"] == "error")
        #expect(refused["connection"]?["lastError"]?.stringValue?.contains("invalid_grant") == true)
        #expect(reason { try resolveGoogle(daemon) } == "reauth_required")
    }

    @Test("a token near expiry is refreshed first; a fresh one is not")
    func refreshAhead() throws {
        let (daemon, provider) = try setUp()
        try importGoogle(daemon, provider, expiresIn: 120)
        let first = try resolveGoogle(daemon)
        #expect(first["credential"]?["accessToken"] == "ya29.access-1")
        #expect(provider.read { $0.refreshCalls } == 1)
        let second = try resolveGoogle(daemon)
        #expect(second["credential"]?["accessToken"] == "ya29.access-1")
        #expect(provider.read { $0.refreshCalls } == 1)
        let connection = try daemon.adminCall(
            "connections.list", ["workspaceId": "ws1", "provider": "google-workspace", "actor": "alice"])
        let expiresAt = ISO8601DateFormatter().date(
            from: connection["connections"]!.arrayValue![0]["expiresAt"]!.stringValue!)!
        #expect(expiresAt.timeIntervalSinceNow > 3000)
    }

    @Test("50 concurrent resolves of an expiring token cause exactly one refresh")
    func singleFlight() async throws {
        let (daemon, provider) = try setUp()
        try importGoogle(daemon, provider, expiresIn: 60)
        provider.configure { $0.responseDelay = 0.5 }
        let socket = daemon.resolveSocket
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await Task.detached {
                        let client = try CredsClient(socketPath: socket)
                        return try client.call("resolve", ["workspaceId": "ws1", "provider": "google-workspace"])[
                            "credential"]!["accessToken"]!.stringValue!
                    }.value
                }
            }
            var all: [String] = []
            for try await token in group { all.append(token) }
            return all
        }
        #expect(tokens.count == 50)
        #expect(Set(tokens) == ["ya29.access-1"])
        #expect(provider.read { $0.refreshCalls } == 1)
    }

    @Test("a rotated refresh token is stored and used for the next refresh")
    func rotation() throws {
        let (daemon, provider) = try setUp()
        provider.configure {
            $0.rotateRefreshTokens = true
            $0.expiresIn = 60
        }
        try importGoogle(daemon, provider, expiresIn: 60)
        #expect(try resolveGoogle(daemon)["credential"]?["accessToken"] == "ya29.access-1")
        try daemon.restart()
        #expect(try resolveGoogle(daemon)["credential"]?["accessToken"] == "ya29.access-2")
        #expect(provider.read { $0.refreshCalls } == 2)
        #expect(provider.read { $0.refreshTokens } == ["1//refresh-2"])
    }

    @Test("invalid_grant sets status error and answers reauth_required with the connection id")
    func invalidGrant() throws {
        let (daemon, provider) = try setUp()
        let id = try importGoogle(daemon, provider, expiresIn: 60)
        provider.configure { $0.behaviour = .invalidGrant }
        let error = remoteError { try resolveGoogle(daemon) }
        #expect(error?.reason == "reauth_required")
        #expect(error?.data["connectionId"] == .string(id))
        let connection = try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])[
            "connection"]
        #expect(connection?["status"] == "error")
        #expect(connection?["lastError"]?.stringValue?.contains("invalid_grant") == true)
        let again = remoteError { try resolveGoogle(daemon) }
        #expect(again?.reason == "reauth_required")
        #expect(again?.data["connectionId"] == .string(id))
    }

    @Test(
        "a 500 keeps the status and serves a still-valid token; an expired one is upstream_unavailable; failures back off"
    )
    func serverErrors() throws {
        let (daemon, provider) = try setUp()
        let id = try importGoogle(daemon, provider, expiresIn: 120)
        provider.configure { $0.behaviour = .serverError }
        #expect(try resolveGoogle(daemon)["credential"]?["accessToken"] == "ya29.imported")
        #expect(provider.read { $0.refreshCalls } == 1)
        for _ in 0..<5 { #expect(try resolveGoogle(daemon)["credential"]?["accessToken"] == "ya29.imported") }
        #expect(provider.read { $0.refreshCalls } == 1, "no retry on every request while backing off")
        #expect(
            try daemon.adminCall("connections.get", ["connectionId": .string(id), "actor": "alice"])["connection"]?[
                "status"] == "active")

        let (expired, expiredProvider) = try setUp()
        try importGoogle(expired, expiredProvider, expiresIn: -10)
        expiredProvider.configure { $0.behaviour = .serverError }
        #expect(reason { try resolveGoogle(expired) } == "upstream_unavailable")
        #expect(reason { try resolveGoogle(expired) } == "upstream_unavailable")
        #expect(expiredProvider.read { $0.refreshCalls } == 1)
    }

    @Test("a token endpoint that does not answer is bounded by the timeout")
    func slowEndpoint() throws {
        let (daemon, provider) = try setUp()
        try importGoogle(daemon, provider, expiresIn: -10)
        provider.configure { $0.behaviour = .slow(seconds: 20) }
        #expect(reason { try resolveGoogle(daemon) } == "upstream_unavailable")
        #expect(try daemon.adminCall("health")["status"] == "ok")
    }

    @Test("requiredScopes not all granted is insufficient_scope with the missing ones")
    func insufficientScope() throws {
        let (daemon, provider) = try setUp()
        try importGoogle(daemon, provider, expiresIn: 3600)
        let sheets = "https://www.googleapis.com/auth/spreadsheets"
        let error = remoteError {
            try resolveGoogle(daemon, scopes: ["https://www.googleapis.com/auth/drive.file", sheets])
        }
        #expect(error?.reason == "insufficient_scope")
        #expect(error?.data["missing"] == [.string(sheets)])
        #expect(try resolveGoogle(daemon, scopes: ["https://www.googleapis.com/auth/drive.file"])["source"] == "byo")
    }

    @Test("GitHub: installation recorded; a token minted with a valid app JWT and reused")
    func githubFlow() throws {
        let (daemon, provider) = try setUp()
        let begun = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "github", "displayName": "Repos",
                "redirectUri": .string(Self.redirect),
                "actor": "alice",
            ])
        #expect(
            begun["authorizationUrl"]?.stringValue?.hasPrefix(
                provider.baseURL + "/apps/builderstudio-test/installations/new?state=") == true)
        let done = try daemon.adminCall(
            "oauth.complete", ["state": begun["state"]!, "installationId": "31337", "code": "gh-code"])
        #expect(done["connection"]?["status"] == "active")
        let first = try daemon.resolveCall(
            "resolve", ["workspaceId": "ws1", "provider": "github", "requiredScopes": ["contents:read"]])
        let token = try #require(first["credential"]?["accessToken"]?.stringValue)
        #expect(token.hasPrefix("ghs_installation_"))
        #expect(first["headers"] == ["Authorization": .string("Bearer \(token)")])
        #expect(first["scopes"]?.arrayValue?.contains("pull_requests:write") == true)
        let second = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "github"])
        #expect(second["credential"]?["accessToken"] == .string(token))
        #expect(provider.read { $0.mintCalls } == 1)
        #expect(provider.read { $0.problems } == [])
        #expect(
            reason {
                try daemon.resolveCall(
                    "resolve", ["workspaceId": "ws1", "provider": "github", "requiredScopes": ["administration:write"]])
            } == "insufficient_scope")
        #expect(!daemon.daemonLog.contains("ghu_user") && !daemon.daemonLog.contains(token))
    }

    @Test("GitHub: an uninstalled app sets error and answers reauth_required; a numeric installationId works")
    func githubUninstalled() throws {
        let (daemon, provider) = try setUp()
        let begun = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "github", "displayName": "Repos",
                "redirectUri": .string(Self.redirect),
                "actor": "alice",
            ])
        let id = try daemon.adminCall(
            "oauth.complete", ["state": begun["state"]!, "installationId": 777, "code": "gh-code"])["connection"]![
                "id"]!
        provider.configure { $0.behaviour = .uninstalled }
        let error = remoteError { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "github"]) }
        #expect(error?.reason == "reauth_required")
        #expect(error?.data["connectionId"] == id)
        #expect(
            try daemon.adminCall("connections.get", ["connectionId": id, "actor": "alice"])["connection"]?["status"]
                == "error")
        #expect(provider.read { $0.problems } == [])
    }

    @Test("a state begun before its connection was re-authorized is refused at completion")
    func stateOutlivedByReauthorization() throws {
        let (daemon, provider) = try setUp()
        let id = try connectGoogle(daemon, provider)
        var begins: [JSONValue] = []
        for _ in 0..<2 {
            begins.append(
                try daemon.adminCall(
                    "oauth.begin",
                    [
                        "workspaceId": "ws1", "provider": "google-workspace", "connectionId": .string(id),
                        "displayName": "Drive",
                        "redirectUri": .string(Self.redirect), "actor": "alice",
                    ]))
        }
        for begun in begins {
            let url = try #require(begun["authorizationUrl"]?.stringValue)
            let challenge = try #require(query(url)["code_challenge"])
            provider.configure { $0.codes["code-\(challenge.prefix(6))"] = challenge }
        }
        func complete(_ begun: JSONValue) throws -> JSONValue {
            let challenge = query(begun["authorizationUrl"]?.stringValue ?? "")["code_challenge"] ?? ""
            return try daemon.adminCall(
                "oauth.complete", ["state": begun["state"]!, "code": .string("code-\(challenge.prefix(6))")])
        }
        #expect(try complete(begins[0])["connection"]?["status"] == "active")
        let refused = remoteError { try complete(begins[1]) }
        #expect(refused?.reason == "invalid_state")
        #expect(refused?.message.contains("changed since this authorization began") == true)
    }

    @Test("oauth.begin refuses API-key providers, unconfigured providers and unauthorized actors")
    func beginRefusals() throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        func begin(_ provider: String, actor: String = "alice") -> String? {
            reason {
                try daemon.adminCall(
                    "oauth.begin",
                    [
                        "workspaceId": "ws1", "provider": .string(provider), "displayName": "X",
                        "redirectUri": .string(Self.redirect), "actor": .string(actor),
                    ])
            }
        }
        #expect(begin("google-workspace") == "invalid_params")
        #expect(begin("github") == "invalid_params")
        #expect(begin("fal") == "invalid_params")
        #expect(begin("telegram") == "provider_not_connectable")
        #expect(begin("github", actor: "mallory") == "forbidden")
    }
}
