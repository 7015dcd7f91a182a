import CredsCrypto
import CredsOAuth
import CredsProtocol
import NIOCore

/// GitHub: installation access tokens are minted with the App's JWT (`POST /app/installations/{id}/access_tokens`)
/// and kept in memory for the record revision they were minted for.
struct GitHubTokenSource: TokenSource {
    let settings: GitHubAppSettings?
    let tokenClient: TokenEndpointClient
    let installationTokens: HeldTokenCache

    func current(_ connection: ConnectionRecord, fields: [String: String]) throws(RPCError) -> AccessToken? {
        guard fields["installationId"] != nil else {
            throw RPCError(
                .reauthRequired, "the connection has no installation", data: ["connectionId": connection.id.json])
        }
        return installationTokens.token(for: connection.id, revision: connection.revision)
    }

    /// Installations recorded before credsd checked them against the authorizing user (no user token kept) may
    /// be forged: they are not served until authorized again.
    func refusedWithoutAsking(_ connection: ConnectionRecord, fields: [String: String]) -> String? {
        guard fields["userAccessToken"] == nil else { return nil }
        return "the installation was recorded without checking who installed it; authorize the connection again"
    }

    func unavailable(_ connection: ConnectionRecord, fields: [String: String]) -> RPCError? {
        guard settings == nil else { return nil }
        return RPCError(.upstreamUnavailable, "the GitHub App is not configured on this daemon")
    }

    func fetch(_ connection: ConnectionRecord, fields: [String: String], on eventLoop: any EventLoop)
        -> EventLoopFuture<TokenReply>
    {
        guard let settings, let installationId = fields["installationId"] else {
            return eventLoop.makeFailedFuture(RPCError(.upstreamUnavailable, "the GitHub App is not configured"))
        }
        let jwt: String
        do {
            jwt = try settings.key.jwt(appId: settings.appId, now: Timestamp.now().seconds)
        } catch {
            return eventLoop.makeFailedFuture(RPCError(.internalError, "the GitHub App key could not sign"))
        }
        let url = "\(settings.apiBaseUrl)/app/installations/\(installationId)/access_tokens"
        let headers = [
            ("Authorization", "Bearer \(jwt)"), ("Accept", "application/vnd.github+json"),
            ("X-GitHub-Api-Version", "2022-11-28"),
        ]
        let id = connection.id
        let revision = connection.revision
        let installationTokens = self.installationTokens
        return tokenClient.post(url, body: [], headers: headers, on: eventLoop).map { reply in
            let json = try? JSONValue.parse(reply.body)
            if reply.isSuccess, let token = json?["token"]?.stringValue, !token.isEmpty {
                let permissions = json?["permissions"]?.objectValue ?? [:]
                let minted = AccessToken(
                    token: SecretBytes(copying: Array(token.utf8)), tokenType: "Bearer",
                    expiresAt: json?["expires_at"]?.stringValue.flatMap(Timestamp.parse)
                        ?? Timestamp.now() + .seconds(3_000),
                    scopes: permissions.keys.sorted().compactMap { key in
                        permissions[key]?.stringValue.map { "\(key):\($0)" }
                    }
                )
                installationTokens.store(minted, for: id, revision: revision)
                return .issued(minted)
            }
            if reply.status == 404 { return .refused("the GitHub App is no longer installed (HTTP 404)") }
            return .failed(httpStatus: reply.status)
        }
    }
}
