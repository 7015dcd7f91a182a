import CredsClient
import CredsProtocol
import Foundation
import Testing

/// Attacks on the OAuth flows (issue 11): forged GitHub installations, states that outlive what allowed them,
/// token endpoints that redirect or answer absurd numbers, and an installation token that outlives its
/// installation. The fake provider is a real HTTP server on 127.0.0.1.
@Suite("OAuth under attack: forged installations, stale states, hostile token endpoints")
struct OAuthAttackTests {
    static let redirect = "https://app.example/oauth/callback"

    private func setUp(mode: DaemonFixture.Mode = .inProcess) throws -> (DaemonFixture, FakeOAuthProvider) {
        let provider = try FakeOAuthProvider()
        let daemon = try DaemonFixture(
            mode: mode, configExtra: "[resolve]\nrequireGrant = false\n\n" + provider.configSections())
        daemon.remember(FakeOAuthProvider.clientSecret)
        daemon.remember(FakeOAuthProvider.githubClientSecret)
        try daemon.addWriter()
        return (daemon, provider)
    }

    private func beginGitHub(_ daemon: DaemonFixture, connectionId: String? = nil, actor: String = "alice") throws
        -> JSONValue
    {
        var params: [String: JSONValue] = [
            "workspaceId": "ws1", "provider": "github", "displayName": "Repos", "redirectUri": .string(Self.redirect),
            "actor": .string(actor),
        ]
        if let connectionId { params["connectionId"] = .string(connectionId) }
        return try daemon.adminCall("oauth.begin", params)
    }

    /// Imports a Google connection whose access token expires `expiresIn` seconds from now; returns its id.
    @discardableResult
    private func importGoogle(
        _ daemon: DaemonFixture, _ provider: FakeOAuthProvider, refreshToken: String, expiresIn: TimeInterval
    ) throws -> JSONValue {
        provider.configure { $0.refreshTokens.insert(refreshToken) }
        daemon.remember(refreshToken)
        return try daemon.adminCall(
            "connections.upsert",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Imported", "actor": "alice",
                "credentialPayload": [
                    "accessToken": .string("ya29.\(refreshToken.dropFirst(3))"), "refreshToken": .string(refreshToken),
                    "expiresAt": .string(ISO8601DateFormatter().string(from: Date().addingTimeInterval(expiresIn))),
                ],
            ])["connection"]!["id"]!
    }

    /// Begins re-authorizing connection `id` with Google and registers `code` for it at the fake; returns the state.
    private func reauthorizeGoogle(
        _ daemon: DaemonFixture, _ provider: FakeOAuthProvider, _ id: JSONValue, code: String
    ) throws -> JSONValue {
        let begun = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "New",
                "redirectUri": .string(Self.redirect),
                "actor": "alice", "connectionId": id,
            ])
        let url = try #require(begun["authorizationUrl"]?.stringValue)
        let challenge = try #require(
            FakeOAuthProvider.parseForm(String(url.split(separator: "?").last!))["code_challenge"])
        provider.configure { $0.codes[code] = challenge }
        return begun["state"]!
    }

    private func beginGoogle(_ daemon: DaemonFixture, _ provider: FakeOAuthProvider, actor: String = "alice") throws
        -> (JSONValue, String)
    {
        let begun = try daemon.adminCall(
            "oauth.begin",
            [
                "workspaceId": "ws1", "provider": "google-workspace", "displayName": "Drive",
                "redirectUri": .string(Self.redirect), "actor": .string(actor),
            ])
        let url = try #require(begun["authorizationUrl"]?.stringValue)
        let query = FakeOAuthProvider.parseForm(String(url.split(separator: "?", maxSplits: 1).last ?? ""))
        let challenge = try #require(query["code_challenge"])
        let code = "code-\(challenge.prefix(8))"
        provider.configure { $0.codes[code] = challenge }
        return (begun, code)
    }

    @Test("GitHub: an installation the authorizing user cannot access is forbidden and the connection goes to error")
    func forgedInstallation() throws {
        let (daemon, provider) = try setUp()
        let begun = try beginGitHub(daemon)
        // 4242 is another workspace's installation of the same app: the browser can send any id.
        let error = remoteError {
            try daemon.adminCall(
                "oauth.complete", ["state": begun["state"]!, "installationId": 4242, "code": "gh-code"])
        }
        #expect(error?.reason == "forbidden")
        let id = try #require(begun["connectionId"])
        let connection = try daemon.adminCall("connections.get", ["connectionId": id, "actor": "alice"])["connection"]
        #expect(connection?["status"] == "error")
        #expect(provider.read { $0.installationPagesServed } == [1])
        // Nothing was minted for the forged installation, and resolve says why.
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "github"]) }
                == "reauth_required")
        #expect(provider.read { $0.mintedFor } == [])
        #expect(!daemon.daemonLog.contains("ghu_user"))
    }

    @Test("GitHub: the installation check reads every page of /user/installations")
    func installationOnLaterPage() throws {
        let (daemon, provider) = try setUp()
        provider.configure { $0.userInstallations = Array(1...250) }
        let begun = try beginGitHub(daemon)
        let done = try daemon.adminCall(
            "oauth.complete", ["state": begun["state"]!, "installationId": "240", "code": "gh-code"])
        #expect(done["connection"]?["status"] == "active")
        #expect(provider.read { $0.installationPagesServed } == [1, 2, 3])
        let token = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "github"])["credential"]?[
            "accessToken"]
        #expect(token?.stringValue?.contains("_i240_") == true)
        // The user token is kept sealed, never answered.
        #expect(done.serializedText.contains("ghu_user") == false)
    }

    @Test("GitHub: without a code the completion is invalid_params and the state stays usable")
    func githubNeedsCode() throws {
        let (daemon, _) = try setUp()
        let begun = try beginGitHub(daemon)
        #expect(
            reason { try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "installationId": 31337]) }
                == "invalid_params")
        #expect(
            reason { try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": "gh-code"]) }
                == "invalid_params")
        let done = try daemon.adminCall(
            "oauth.complete", ["state": begun["state"]!, "installationId": 31337, "code": "gh-code"])
        #expect(done["connection"]?["status"] == "active")
    }

    @Test("GitHub: re-authorizing to another installation stops serving the old installation's token at once")
    func reauthorizeToAnotherInstallation() throws {
        let (daemon, provider) = try setUp()
        let first = try beginGitHub(daemon)
        _ = try daemon.adminCall(
            "oauth.complete", ["state": first["state"]!, "installationId": 31337, "code": "gh-code"])
        let before = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "github"])["credential"]?[
            "accessToken"]
        #expect(before?.stringValue?.contains("_i31337_") == true)
        let id = try #require(first["connectionId"]?.stringValue)
        let again = try beginGitHub(daemon, connectionId: id)
        _ = try daemon.adminCall(
            "oauth.complete", ["state": again["state"]!, "installationId": 777, "code": "gh-code"])
        let after = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "github"])["credential"]?[
            "accessToken"]
        #expect(after?.stringValue?.contains("_i777_") == true)
        #expect(provider.read { $0.mintedFor } == ["31337", "777"])
    }

    @Test("a pending state dies with connections.revoke and connections.delete")
    func stateDiesWithConnection() throws {
        let (daemon, provider) = try setUp()
        for method in ["connections.revoke", "connections.delete"] {
            let (begun, code) = try beginGoogle(daemon, provider)
            _ = try daemon.adminCall(method, ["connectionId": begun["connectionId"]!, "actor": "alice"])
            #expect(
                reason { try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": .string(code)]) }
                    == "invalid_state", "\(method)")
            #expect(provider.read { $0.exchangeCalls } == 0)
        }
    }

    @Test("a pending state dies when its actor loses write on the workspace")
    func stateDiesWithMembership() throws {
        let (daemon, provider) = try setUp()
        try daemon.addWriter("bob")
        let (begun, code) = try beginGoogle(daemon, provider, actor: "bob")
        _ = try daemon.adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "read"])
        #expect(
            reason { try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": .string(code)]) }
                == "invalid_state")
        // Another writer's flow is untouched.
        let (other, otherCode) = try beginGoogle(daemon, provider)
        _ = try daemon.adminCall("members.set", ["workspaceId": "ws1", "principal": "bob", "role": "none"])
        let done = try daemon.adminCall("oauth.complete", ["state": other["state"]!, "code": .string(otherCode)])
        #expect(done["connection"]?["status"] == "active")
    }

    @Test("a token endpoint's redirect is not followed: secrets are not re-sent elsewhere")
    func redirectNotFollowed() throws {
        let (daemon, provider) = try setUp()
        try importGoogle(daemon, provider, refreshToken: "1//imported-refresh", expiresIn: -10)
        provider.configure { $0.behaviour = .redirect }
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"]) }
                == "upstream_unavailable")
        let (begun, code) = try beginGoogle(daemon, provider)
        _ = try? daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": .string(code)])
        #expect(provider.read { $0.stolenRequests } == 0)
    }

    @Test("a token endpoint answering an absurd expires_in is a failed refresh, not a crash")
    func hostileExpiresIn() throws {
        // A process: the point is that the daemon does not crash.
        let (daemon, provider) = try setUp(mode: .process)
        try importGoogle(daemon, provider, refreshToken: "1//imported-refresh", expiresIn: -10)
        provider.configure { $0.expiresIn = Int.max }
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"]) }
                == "upstream_unavailable")
        #expect(try daemon.adminCall("health")["status"] != nil)
        #expect(daemon.pid.map { kill($0, 0) == 0 } == true)
    }
}

extension OAuthAttackTests {
    /// Runs `body` on another thread; `wait()` returns its result.
    final class Background<Value: Sendable>: @unchecked Sendable {
        private var result: Result<Value, any Error>?
        private let done = DispatchSemaphore(value: 0)

        init(_ body: @escaping @Sendable () throws -> Value) {
            Thread {
                self.result = Result { try body() }
                self.done.signal()
            }.start()
        }

        func wait() throws -> Value {
            done.wait()
            return try result!.get()
        }
    }

    /// Polls `condition` every 10 ms for up to 20 s (no timing is asserted: the wait only orders events).
    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<2000 {
            if condition() { return true }
            usleep(10_000)
        }
        return false
    }

    @Test("a revoke while oauth.complete waits for the provider wins: the completion is invalid_state")
    func revokeDuringCompletion() throws {
        let (daemon, provider) = try setUp()
        let (begun, code) = try beginGoogle(daemon, provider)
        provider.configure { $0.exchangeDelay = 2 }
        let completing = Background {
            try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": .string(code)])
        }
        #expect(eventually { provider.read { $0.exchangeCalls } == 1 })
        _ = try daemon.adminCall("connections.revoke", ["connectionId": begun["connectionId"]!, "actor": "alice"])
        #expect(reason { try completing.wait() } == "invalid_state")
        let connection = try daemon.adminCall(
            "connections.get", ["connectionId": begun["connectionId"]!, "actor": "alice"])
        #expect(connection["connection"]?["status"] == "revoked")
        #expect(
            reason { try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"]) }
                == "no_credential")
    }

    @Test("a refresh that lands after a re-authorization is dropped: the new account's token stays")
    func refreshRacesReauthorization() throws {
        let (daemon, provider) = try setUp()
        let imported = try importGoogle(daemon, provider, refreshToken: "1//old-account", expiresIn: -10)
        // A resolve starts a slow refresh of the old account's token...
        provider.configure { $0.refreshDelay = 2 }
        let resolving = Background {
            try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"])
        }
        #expect(eventually { provider.read { $0.refreshCalls } == 1 })
        // ...while the user re-authorizes the connection with another account.
        let state = try reauthorizeGoogle(daemon, provider, imported, code: "new-account")
        let done = try daemon.adminCall("oauth.complete", ["state": state, "code": "new-account"])
        #expect(done["connection"]?["status"] == "active")
        let newToken = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"])[
            "credential"]?["accessToken"]
        _ = try? resolving.wait()
        // The old refresh landed after the re-authorization: the new account's token is still what is served.
        let after = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"])[
            "credential"]?["accessToken"]
        #expect(after == newToken)
        #expect(after?.stringValue?.hasPrefix("ya29.access-") == true)
    }

    @Test("a token refresh that lands while a re-authorization waits for its code exchange does not break it")
    func refreshDuringReauthorization() throws {
        let (daemon, provider) = try setUp()
        // Expires within refreshWindowSeconds (300): every resolve refreshes it.
        let imported = try importGoogle(daemon, provider, refreshToken: "1//expiring", expiresIn: 60)
        provider.configure {
            $0.expiresIn = 60; $0.exchangeDelay = 1
        }
        let state = try reauthorizeGoogle(daemon, provider, imported, code: "new-account")
        let completing = Background { try daemon.adminCall("oauth.complete", ["state": state, "code": "new-account"]) }
        #expect(eventually { provider.read { $0.exchangeCalls } == 1 })
        _ = try daemon.resolveCall("resolve", ["workspaceId": "ws1", "provider": "google-workspace"])
        #expect(provider.read { $0.refreshCalls } == 1)
        #expect(try completing.wait()["connection"]?["status"] == "active")
    }

    @Test("GitHub rate-limiting the installation check (403) is upstream_unavailable, not forbidden")
    func installationCheckRateLimited() throws {
        let (daemon, provider) = try setUp()
        provider.configure { $0.installationsStatus = 403 }
        let begun = try beginGitHub(daemon)
        #expect(
            reason {
                try daemon.adminCall(
                    "oauth.complete", ["state": begun["state"]!, "installationId": 31337, "code": "gh-code"])
            } == "upstream_unavailable")
    }

    @Test("Google: without a code the completion is invalid_params and the state stays usable")
    func googleNeedsCode() throws {
        let (daemon, provider) = try setUp()
        let (begun, code) = try beginGoogle(daemon, provider)
        #expect(reason { try daemon.adminCall("oauth.complete", ["state": begun["state"]!]) } == "invalid_params")
        let done = try daemon.adminCall("oauth.complete", ["state": begun["state"]!, "code": .string(code)])
        #expect(done["connection"]?["status"] == "active")
    }
}

extension JSONValue {
    var serializedText: String { String(decoding: serialized(), as: UTF8.self) }
}
