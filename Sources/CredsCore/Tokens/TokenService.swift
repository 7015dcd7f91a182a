import CredsCrypto
import CredsOAuth
import CredsProtocol
import CredsStore
import NIOCore

/// Access tokens of OAuth connections: the stored one while fresh, else refreshed (Google) or minted (GitHub
/// installation tokens), one request per connection in flight however many resolves wait, with back-off after
/// failures and a clear re-auth signal when the provider says no.
final class TokenService: Sendable {
    let core: EngineCore
    let oauth: OAuthSettings
    let tokenClient: TokenEndpointClient
    let flights = TokenFlights()
    let installationTokens = InstallationTokenCache()

    init(core: EngineCore, oauth: OAuthSettings, tokenClient: TokenEndpointClient) {
        self.core = core
        self.oauth = oauth
        self.tokenClient = tokenClient
    }

    /// A valid access token for an OAuth connection: the stored one while it is fresh, else a refreshed or
    /// newly minted one, with one refresh per connection in flight however many resolves wait for it.
    func accessToken(_ connection: ConnectionRecord, context: CallContext) -> EventLoopFuture<AccessToken> {
        do {
            switch connection.provider.text {
            case "google-workspace": return try googleToken(connection, context: context)
            case "github": return try githubToken(connection, context: context)
            default: throw RPCError(.noCredential, "no token source for \(connection.provider)")
            }
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
    }

    private var refreshWindow: Duration { .seconds(core.resolveConfig.refreshWindowSeconds) }

    // MARK: Google

    private func googleToken(_ connection: ConnectionRecord, context: CallContext) throws(RPCError) -> EventLoopFuture<
        AccessToken
    > {
        let fields = try core.openPayload(connection, sealer: core.sealer)
        guard let accessToken = fields["accessToken"] else {
            throw RPCError(
                .reauthRequired, "the connection holds no access token", data: ["connectionId": connection.id.json])
        }
        let current = AccessToken(
            token: SecretBytes(copying: Array(accessToken.utf8), storage: .transient), tokenType: "Bearer",
            expiresAt: connection.expiresAt,
            scopes: connection.scopes ?? []
        )
        let now = Timestamp.now()
        if let expiresAt = connection.expiresAt, expiresAt - now > refreshWindow {
            return context.eventLoop.makeSucceededFuture(current)
        }
        let fallback = { @Sendable (error: any Error) -> EventLoopFuture<AccessToken> in
            if let error = error as? RPCError, error.reason != .upstreamUnavailable {
                return context.eventLoop.makeFailedFuture(error)
            }
            if let expiresAt = current.expiresAt, expiresAt > Timestamp.now() {
                return context.eventLoop.makeSucceededFuture(current)
            }
            return context.eventLoop.makeFailedFuture(error)
        }
        guard let google = oauth.google, let refreshToken = fields["refreshToken"] else {
            return fallback(
                RPCError(
                    .upstreamUnavailable, "the token has expired and cannot be refreshed here",
                    data: ["connectionId": connection.id.json]))
        }
        if flights.isBackingOff(connection.id, now: now) {
            return fallback(
                RPCError(
                    .upstreamUnavailable, "the token endpoint failed recently; waiting before trying again",
                    data: ["connectionId": connection.id.json]))
        }
        return flights.refresh(connection.id, revision: connection.revision, on: context.eventLoop) {
            refreshGoogle(connection, refreshToken: refreshToken, settings: google, context: context)
        }.flatMapError(fallback)
    }

    private func refreshGoogle(
        _ connection: ConnectionRecord,
        refreshToken: String,
        settings: GoogleOAuthSettings,
        context: CallContext
    ) -> EventLoopFuture<AccessToken> {
        let form = [
            ("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", settings.clientId),
            ("client_secret", settings.clientSecret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }),
        ]
        let id = connection.id
        let revision = connection.revision
        return tokenClient.postForm(settings.tokenUrl, form: form, on: context.eventLoop).flatMap { reply in
            let json = try? JSONValue.parse(reply.body)
            let now = Timestamp.now()
            if reply.isSuccess, let json, let grant = TokenGrant(json: json, now: now) {
                self.flights.recordSuccess(id)
                self.core.statistics.recordRefresh("ok")
                return self.storeRefreshed(
                    id, revision: revision, grant: grant, keepRefreshToken: refreshToken, context: context)
            }
            if json?["error"]?.stringValue == "invalid_grant" {
                self.flights.recordSuccess(id)
                self.core.statistics.recordRefresh("reauth_required")
                return self.requireReauth(
                    id, revision: revision, "Google refused the refresh token (invalid_grant)", context: context)
            }
            self.flights.recordFailure(id, now: now)
            self.core.statistics.recordRefresh("failed")
            self.core.logger.warning(
                "token refresh failed", metadata: ["conn.id": "\(id)", "http.status": "\(reply.status)"])
            return context.eventLoop.makeFailedFuture(
                RPCError(
                    .upstreamUnavailable, "the token endpoint answered HTTP \(reply.status)",
                    data: ["connectionId": id.json])
            )
        }.flatMapErrorThrowing { error in
            throw self.upstreamFailure(id, error)
        }
    }

    /// Stores a refreshed token (and a rotated refresh token) durably before it is answered; only if the record is
    /// still the one the refresh started from (a re-authorization meanwhile wins, and this result is dropped).
    private func storeRefreshed(
        _ id: Identifier,
        revision: UInt64,
        grant: TokenGrant,
        keepRefreshToken: String,
        context: CallContext
    ) -> EventLoopFuture<AccessToken> {
        var fields = ["accessToken": grant.accessToken]
        fields["refreshToken"] = grant.refreshToken ?? keepRefreshToken
        let plaintext = ConnectionService.sealablePayload(fields)
        let sealer = core.sealer
        let core = self.core
        let database = core.database
        return core.write(on: context.eventLoop) { txn -> AccessToken in
            var record = try core.existingConnection(txn, id: id)
            guard record.revision == revision, record.status == .active,
                let sealed = sealer.seal(plaintext, associatedData: record.associatedData)
            else {
                throw RPCError(
                    .connectionUnavailable, "the connection changed during the refresh", data: ["connectionId": id.json]
                )
            }
            record.sealed = sealed
            record.expiresAt = grant.expiresAt
            if let scopes = grant.scopes { record.scopes = scopes }
            record.updatedAt = Timestamp.now()
            record.revision = try database.nextRevision(txn)
            try database.put(txn, record, changesAuthorization: false)
            return AccessToken(
                token: SecretBytes(copying: Array(grant.accessToken.utf8), storage: .transient), tokenType: "Bearer",
                expiresAt: grant.expiresAt, scopes: record.scopes ?? []
            )
        }
    }

    /// Sets the connection to `error` and answers `reauth_required`; if the record changed since `revision`
    /// (re-authorized meanwhile), it is left alone and the answer is `connection_unavailable`.
    private func requireReauth(
        _ id: Identifier,
        revision: UInt64,
        _ message: String,
        context: CallContext
    ) -> EventLoopFuture<AccessToken> {
        core.write(on: context.eventLoop) { [core] txn in
            _ = try core.setErrorStatus(
                txn, connectionId: id, message: message, if: { $0.revision == revision },
                else: RPCError(
                    .connectionUnavailable, "the connection changed meanwhile; try again",
                    data: ["connectionId": id.json])
            )
        }.flatMapThrowing { _ in
            throw RPCError(.reauthRequired, message, data: ["connectionId": id.json])
        }
    }

    /// A transport failure (unreachable, timeout) of a refresh or mint: counted, backed off, logged without a
    /// secret, answered as `upstream_unavailable`. Errors already decided (`RPCError`) pass through.
    private func upstreamFailure(_ id: Identifier, _ error: any Error) -> any Error {
        if error is RPCError { return error }
        flights.recordFailure(id, now: Timestamp.now())
        core.statistics.recordRefresh("failed")
        core.logger.warning("token request failed", metadata: ["conn.id": "\(id)", "error": "\(error)"])
        return RPCError(.upstreamUnavailable, "\(error)", data: ["connectionId": id.json])
    }

    // MARK: GitHub

    private func githubToken(_ connection: ConnectionRecord, context: CallContext) throws(RPCError) -> EventLoopFuture<
        AccessToken
    > {
        let fields = try core.openPayload(connection, sealer: core.sealer)
        guard let installationId = fields["installationId"] else {
            throw RPCError(
                .reauthRequired, "the connection has no installation", data: ["connectionId": connection.id.json])
        }
        // Installations recorded before credsd checked them against the authorizing user (no user token kept)
        // may be forged: they are not served until authorized again.
        guard fields["userAccessToken"] != nil else {
            return requireReauth(
                connection.id, revision: connection.revision,
                "the installation was recorded without checking who installed it; authorize the connection again",
                context: context
            )
        }
        let now = Timestamp.now()
        let cached = installationTokens.token(for: connection.id, revision: connection.revision)
        if let cached, let expiresAt = cached.expiresAt, expiresAt - now > refreshWindow {
            return context.eventLoop.makeSucceededFuture(cached)
        }
        let fallback = { @Sendable (error: any Error) -> EventLoopFuture<AccessToken> in
            if let error = error as? RPCError, error.reason != .upstreamUnavailable {
                return context.eventLoop.makeFailedFuture(error)
            }
            if let cached, let expiresAt = cached.expiresAt, expiresAt > Timestamp.now() {
                return context.eventLoop.makeSucceededFuture(cached)
            }
            return context.eventLoop.makeFailedFuture(error)
        }
        guard let github = oauth.github else {
            return fallback(RPCError(.upstreamUnavailable, "the GitHub App is not configured on this daemon"))
        }
        if flights.isBackingOff(connection.id, now: now) {
            return fallback(
                RPCError(
                    .upstreamUnavailable, "the GitHub API failed recently; waiting before trying again",
                    data: ["connectionId": connection.id.json]))
        }
        return flights.refresh(connection.id, revision: connection.revision, on: context.eventLoop) {
            mintInstallationToken(
                connection.id, revision: connection.revision, installationId: installationId, settings: github,
                context: context
            )
        }.flatMapError(fallback)
    }

    private func mintInstallationToken(
        _ id: Identifier,
        revision: UInt64,
        installationId: String,
        settings: GitHubAppSettings,
        context: CallContext
    ) -> EventLoopFuture<AccessToken> {
        let jwt: String
        do {
            jwt = try settings.key.jwt(appId: settings.appId, now: Timestamp.now().seconds)
        } catch {
            return context.eventLoop.makeFailedFuture(RPCError(.internalError, "the GitHub App key could not sign"))
        }
        let url = "\(settings.apiBaseUrl)/app/installations/\(installationId)/access_tokens"
        let headers = [
            ("Authorization", "Bearer \(jwt)"), ("Accept", "application/vnd.github+json"),
            ("X-GitHub-Api-Version", "2022-11-28"),
        ]
        return tokenClient.post(url, body: [], headers: headers, on: context.eventLoop).flatMap { reply in
            let now = Timestamp.now()
            let json = try? JSONValue.parse(reply.body)
            if reply.isSuccess, let token = json?["token"]?.stringValue, !token.isEmpty {
                self.flights.recordSuccess(id)
                self.core.statistics.recordRefresh("ok")
                let permissions = json?["permissions"]?.objectValue ?? [:]
                let minted = AccessToken(
                    token: SecretBytes(copying: Array(token.utf8)), tokenType: "Bearer",
                    expiresAt: json?["expires_at"]?.stringValue.flatMap(Timestamp.parse) ?? now + .seconds(3_000),
                    scopes: permissions.keys.sorted().compactMap { key in
                        permissions[key]?.stringValue.map { "\(key):\($0)" }
                    }
                )
                self.installationTokens.store(minted, for: id, revision: revision)
                return context.eventLoop.makeSucceededFuture(minted)
            }
            if reply.status == 404 {
                self.flights.recordSuccess(id)
                self.core.statistics.recordRefresh("reauth_required")
                return self.requireReauth(
                    id, revision: revision, "the GitHub App is no longer installed (HTTP 404)", context: context)
            }
            self.flights.recordFailure(id, now: now)
            self.core.statistics.recordRefresh("failed")
            self.core.logger.warning(
                "installation token failed", metadata: ["conn.id": "\(id)", "http.status": "\(reply.status)"])
            return context.eventLoop.makeFailedFuture(
                RPCError(
                    .upstreamUnavailable, "the GitHub API answered HTTP \(reply.status)",
                    data: ["connectionId": id.json])
            )
        }.flatMapErrorThrowing { error in
            throw self.upstreamFailure(id, error)
        }
    }
}
