import CredsCore
import CredsCrypto
import CredsProtocol

/// What the `methods` fixture stores before any input runs, and the secrets that must never come back
/// where they do not belong. Inputs name these symbolically (the seeded grant, the resend connection), so an
/// input means the same thing in every process although ids and secrets are drawn afresh in each.
final class MethodSeeds: @unchecked Sendable {
    // @unchecked Sendable: written by `populate` under the fixture's lock only.
    static let workspace = "ws_Kx9"
    static let otherWorkspace = "ws_other"
    static let writer = "alice"
    static let reader = "bob"
    static let otherWriter = "mallory"
    static let redirectUri = "https://studio.example/oauth/callback"

    let resendKey = Random.token(prefix: "re_", byteCount: 24)
    let webhookKey = Random.bytes(24)
    var webhookSecret: String { "whsec_" + webhookKey.withUnsafeBytes { Base64.encode($0) } }
    let falKey = "0123abcd-0123-4567-89ab-0123456789ab:" + Hex.encode(Random.bytes(16))
    let otherGeminiKey = "AIza" + Random.token(prefix: "", byteCount: 26).prefix(35)
    let googleAccessToken = Random.token(prefix: "ya29.", byteCount: 32)
    let googleRefreshToken = Random.token(prefix: "1//", byteCount: 32)
    let builtinFalKey = Random.token(prefix: "builtin-fal-", byteCount: 24)
    let builtinGeminiKey = Random.token(prefix: "AIzaBuiltin", byteCount: 24)
    let googleClientSecret = Random.token(prefix: "gcs-", byteCount: 24)
    let githubClientSecret = Random.token(prefix: "ghcs-", byteCount: 24)

    private(set) var resendId = ""
    private(set) var falId = ""
    private(set) var googleId = ""
    private(set) var githubId = ""
    private(set) var revokedId = ""
    private(set) var otherGeminiId = ""
    private(set) var pendingGoogleId = ""
    private(set) var grantAll = ""
    private(set) var grantResend = ""
    private(set) var grantOther = ""
    private(set) var revokedGrant = ""
    private(set) var googleState = ""
    private(set) var githubState = ""

    /// Secrets no answer and no error may hold.
    var neverAnswered: [String] {
        [
            webhookSecret, String(webhookSecret.dropFirst(6)), googleRefreshToken, googleClientSecret,
            githubClientSecret,
            ProviderReply.googleRefreshToken, ProviderReply.githubUserToken, ProviderReply.githubUserRefreshToken,
        ] + grants
    }

    var grants: [String] { [grantAll, grantResend, grantOther, revokedGrant] }

    /// Credentials `resolve` answers, each only for its own workspace ("" for any: built-in keys, and the stub
    /// provider's tokens, which every OAuth connection gets).
    var credentials: [(workspace: String, secret: String)] {
        [
            (Self.workspace, resendKey), (Self.workspace, falKey), (Self.workspace, googleAccessToken),
            (Self.otherWorkspace, otherGeminiKey), ("", builtinFalKey), ("", builtinGeminiKey),
            ("", ProviderReply.googleAccessToken), ("", ProviderReply.installationToken),
        ]
    }

    /// Members, connections of several providers and states, a policy per mode, grants (one revoked), OAuth
    /// states pending: all through the admin socket's own methods.
    func populate(_ fixture: MethodFixture) throws {
        let ws = JSONValue.string(Self.workspace)
        let other = JSONValue.string(Self.otherWorkspace)
        let writer = JSONValue.string(Self.writer)
        for (workspace, principal, role) in [
            (ws, writer, "write"), (ws, .string(Self.reader), "read"), (other, .string(Self.otherWriter), "write"),
        ] {
            _ = try fixture.seedCall(
                .admin, "members.set", ["workspaceId": workspace, "principal": principal, "role": .string(role)])
        }
        func upsert(_ workspace: JSONValue, _ actor: JSONValue, _ provider: String, _ payload: JSONValue) throws
            -> String
        {
            let answer = try fixture.seedCall(
                .admin, "connections.upsert",
                [
                    "workspaceId": workspace, "provider": .string(provider),
                    "displayName": .string("Seeded \(provider)"),
                    "credentialPayload": payload, "actor": actor,
                ])
            return answer["connection"]?["id"]?.stringValue ?? ""
        }
        resendId = try upsert(
            ws, writer, "resend", ["apiKey": .string(resendKey), "webhookSecret": .string(webhookSecret)])
        falId = try upsert(ws, writer, "fal", ["apiKey": .string(falKey)])
        googleId = try upsert(
            ws, writer, "google-workspace",
            [
                "accessToken": .string(googleAccessToken), "refreshToken": .string(googleRefreshToken),
                "expiresAt": "2020-01-01T00:00:00Z", "scopes": ["https://www.googleapis.com/auth/drive.file"],
            ])
        otherGeminiId = try upsert(other, .string(Self.otherWriter), "gemini", ["apiKey": .string(otherGeminiKey)])
        revokedId = try upsert(ws, writer, "elevenlabs", ["apiKey": "sk_0123456789abcdef0123"])
        _ = try fixture.seedCall(.admin, "connections.revoke", ["connectionId": .string(revokedId), "actor": writer])
        for (provider, mode) in [("gemini", "built_in"), ("elevenlabs", "byo")] {
            _ = try fixture.seedCall(
                .admin, "policy.set",
                [
                    "workspaceId": ws, "provider": .string(provider), "mode": .string(mode), "actor": writer,
                ])
        }
        func begin(_ provider: String) throws -> JSONValue {
            try fixture.seedCall(
                .admin, "oauth.begin",
                [
                    "workspaceId": ws, "provider": .string(provider), "displayName": .string("Seeded \(provider)"),
                    "redirectUri": .string(Self.redirectUri), "actor": writer,
                ])
        }
        // A GitHub installation the stub provider lists for the user.
        let installed = try begin("github")
        githubId = installed["connectionId"]?.stringValue ?? ""
        fixture.provider.reply = ProviderReply(
            status: 200, expiresIn: 28_800, installations: [["id": 4242, "app_id": 424_242]], totalCount: 1
        )
        defer { fixture.provider.reply = .unavailable }
        _ = try fixture.seedCall(
            .admin, "oauth.complete",
            ["state": installed["state"] ?? .null, "installationId": 4242, "code": "seed-code"])
        githubState = try begin("github")["state"]?.stringValue ?? ""
        let pending = try begin("google-workspace")
        googleState = pending["state"]?.stringValue ?? ""
        pendingGoogleId = pending["connectionId"]?.stringValue ?? ""
        func issue(_ params: [String: JSONValue]) throws -> String {
            try fixture.seedCall(.admin, "grants.issue", params.merging(["ttlSeconds": 86_400]) { $1 })["grant"]?
                .stringValue ?? ""
        }
        grantAll = try issue(["workspaceId": ws])
        grantResend = try issue(["workspaceId": ws, "providers": ["resend"]])
        grantOther = try issue(["workspaceId": other])
        revokedGrant = try issue(["workspaceId": ws])
        _ = try fixture.seedCall(.admin, "grants.revoke", ["grant": .string(revokedGrant)])
    }
}
