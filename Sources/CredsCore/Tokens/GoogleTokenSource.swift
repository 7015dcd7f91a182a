import CredsCrypto
import CredsOAuth
import CredsProtocol
import NIOCore

/// Google: the access token is sealed in the connection with its refresh token; a new one comes from the token
/// endpoint (`grant_type=refresh_token`) and is sealed back before it is answered.
///
/// In cluster mode one host refreshes a connection at a time (SPEC 10): it takes the connection's refresh lease
/// first; the others wait for its change (bounded by the lease) while the current token serves. While the
/// database is away a host refreshes on its own and keeps the new token in memory (`outageTokens`), and writes it
/// back once the database returns if the connection did not change meanwhile (`writeBacks`).
struct GoogleTokenSource: TokenSource {
    let core: EngineCore
    let settings: GoogleOAuthSettings?
    let tokenClient: TokenEndpointClient
    let outageTokens: HeldTokenCache
    let writeBacks: OutageWriteBacks

    func current(_ connection: ConnectionRecord, fields: [String: String]) throws(RPCError) -> AccessToken? {
        guard let accessToken = fields["accessToken"] else {
            throw RPCError(
                .reauthRequired, "the connection holds no access token", data: ["connectionId": connection.id.json])
        }
        if let held = outageTokens.token(for: connection.id, revision: connection.revision),
            let heldUntil = held.expiresAt, heldUntil > (connection.expiresAt ?? Timestamp(microseconds: 0))
        {
            return held
        }
        return AccessToken(
            token: SecretBytes(copying: Array(accessToken.utf8), storage: .transient), tokenType: "Bearer",
            expiresAt: connection.expiresAt, scopes: connection.scopes ?? []
        )
    }

    func unavailable(_ connection: ConnectionRecord, fields: [String: String]) -> RPCError? {
        guard settings == nil || fields["refreshToken"] == nil else { return nil }
        return RPCError(
            .upstreamUnavailable, "the token has expired and cannot be refreshed here",
            data: ["connectionId": connection.id.json])
    }

    func fetch(_ connection: ConnectionRecord, fields: [String: String], on eventLoop: any EventLoop)
        -> EventLoopFuture<TokenReply>
    {
        guard let cluster = core.cluster else { return refresh(connection, fields: fields, lease: nil, on: eventLoop) }
        let promise = eventLoop.makePromise(of: TokenReply.self)
        promise.completeWithTask { [core] in
            let key = StoreKeys.connection(connection.id)
            let (seen, latest) = try core.read { txn in
                (
                    try core.database.replicaVersion(txn, .connection, key),
                    try core.database.connection(txn, id: connection.id)
                )
            }
            // The replica moved on since this resolve read the connection (another host's refresh arrived): its
            // token answers, never a second refresh under a version this call did not read.
            if latest?.revision != connection.revision {
                return try await awaitRefresh(of: connection, within: .zero)
            }
            let lease: RefreshLease
            do {
                lease = try await cluster.takeRefreshLease(connectionId: connection.id, key: key, seenVersion: seen)
            } catch {
                // The database is away: Google's refresh tokens are not rotated, so this host may refresh alone.
                // In contact but the lease could not be taken (a slow database, a lock): someone else may hold
                // it; this host does not refresh without it.
                guard cluster.writeRefusal() != nil else {
                    return try await awaitOrServe(connection, fields: fields, within: .seconds(2))
                }
                return try await refresh(connection, fields: fields, lease: nil, on: eventLoop).get()
            }
            switch lease {
            case .won(let hold):
                // A refresh that stores nothing (Google failed or refused, the transport broke) gives the lease
                // back at once: the next host need not wait 30 s for it.
                let reply: TokenReply
                do {
                    reply = try await refresh(connection, fields: fields, lease: hold, on: eventLoop).get()
                } catch {
                    await cluster.releaseRefreshLease(hold)
                    throw error
                }
                if case .issued = reply { return reply }
                await cluster.releaseRefreshLease(hold)
                return reply
            case .heldElsewhere(let remaining):
                return try await awaitOrServe(connection, fields: fields, within: remaining + .seconds(1))
            case .outdated:
                return try await awaitOrServe(connection, fields: fields, within: .seconds(2))
            }
        }
        return promise.futureResult
    }

    /// Another host refreshes the connection: the current token answers while it is still valid (SPEC 10), else
    /// this waits for the other host's change (`awaitRefresh`).
    private func awaitOrServe(_ connection: ConnectionRecord, fields: [String: String], within: Duration)
        async throws -> TokenReply
    {
        if let token = try current(connection, fields: fields), let expiresAt = token.expiresAt,
            expiresAt > Timestamp.now()
        {
            return .issued(token)
        }
        return try await awaitRefresh(of: connection, within: within)
    }

    /// Another host refreshes (or has refreshed) the connection: waits for its change to reach this replica, at
    /// most `within`, and answers the new token; `upstream_unavailable` when it does not come (the current token
    /// still serves while valid), `connection_unavailable` when the connection is gone or no longer active.
    private func awaitRefresh(of connection: ConnectionRecord, within: Duration) async throws -> TokenReply {
        let deadline = ContinuousClock.now + min(within, .seconds(Int64(ClusterRefresh.longestWaitSeconds)))
        let window = Duration.seconds(core.resolveConfig.refreshWindowSeconds)
        repeat {
            let latest = try core.read { txn in try core.database.connection(txn, id: connection.id) }
            guard let record = latest else {
                throw RPCError(
                    .connectionUnavailable, "the connection was deleted meanwhile",
                    data: ["connectionId": connection.id.json])
            }
            if record.revision != connection.revision {
                guard record.status == .active else {
                    throw RPCError(
                        .connectionUnavailable, "the connection changed meanwhile; try again",
                        data: ["connectionId": connection.id.json])
                }
                let fields = try core.openPayload(record, sealer: core.sealer)
                if let token = try current(record, fields: fields), let expiresAt = token.expiresAt,
                    expiresAt - Timestamp.now() > window
                {
                    return .issued(token)
                }
            }
            try await Task.sleep(for: .milliseconds(5))
        } while ContinuousClock.now < deadline
        throw RPCError(
            .upstreamUnavailable, "another cluster host is refreshing this token",
            data: ["connectionId": connection.id.json])
    }

    /// Asks Google's token endpoint for a new access token and keeps it (`store`).
    private func refresh(
        _ connection: ConnectionRecord,
        fields: [String: String],
        lease: LeaseHold?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<TokenReply> {
        guard let settings, let refreshToken = fields["refreshToken"] else {
            return eventLoop.makeFailedFuture(unavailable(connection, fields: fields)!)
        }
        let form = [
            ("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", settings.clientId),
            ("client_secret", settings.clientSecret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }),
        ]
        return tokenClient.postForm(settings.tokenUrl, form: form, on: eventLoop).flatMap { reply in
            let json = try? JSONValue.parse(reply.body)
            if reply.isSuccess, let json, let grant = TokenGrant(json: json, now: Timestamp.now()) {
                return store(grant, keepRefreshToken: refreshToken, for: connection, lease: lease, on: eventLoop).map {
                    .issued($0)
                }
            }
            if json?["error"]?.stringValue == "invalid_grant" {
                return eventLoop.makeSucceededFuture(.refused("Google refused the refresh token (invalid_grant)"))
            }
            return eventLoop.makeSucceededFuture(.failed(httpStatus: reply.status))
        }
    }

    /// Stores a refreshed token (and a rotated refresh token) durably before it is answered (`persist`). In cluster
    /// mode a token another host's refresh or a lost lease kept out still answers this call; one the database was
    /// away for is held in memory and written back when it returns.
    private func store(
        _ grant: TokenGrant,
        keepRefreshToken: String,
        for connection: ConnectionRecord,
        lease: LeaseHold?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<AccessToken> {
        let fresh = AccessToken(
            token: SecretBytes(copying: Array(grant.accessToken.utf8), storage: .transient), tokenType: "Bearer",
            expiresAt: grant.expiresAt, scopes: grant.scopes ?? connection.scopes ?? [])
        let (core, outageTokens, writeBacks) = (self.core, self.outageTokens, self.writeBacks)
        let source = self
        return persist(grant, keepRefreshToken: keepRefreshToken, for: connection, lease: lease, on: eventLoop)
            .flatMapErrorThrowing { error in
                switch error {
                case is LeaseLost:
                    // Another host took the lease over and refreshes too: its token is stored, this one is still a
                    // valid token from Google and answers this call.
                    return fresh
                case let error as RPCError
                where error.reason == .connectionUnavailable && core.cluster != nil
                    && sameAuthorization(connection):
                    // Another host's refresh of this connection was stored first: this token, from the same
                    // authorization, is valid too.
                    return fresh
                case let error as RPCError where error.reason == .storeUnavailable:
                    guard let cluster = core.cluster else { throw error }
                    // The cluster database is away: held here until it returns, then written back if the
                    // connection is still the one this refresh started from.
                    outageTokens.store(fresh, for: connection.id, revision: connection.revision)
                    writeBacks.schedule(connection.id, expiresAt: grant.expiresAt, cluster: cluster) {
                        do {
                            _ = try await source.persist(
                                grant, keepRefreshToken: keepRefreshToken, for: connection, lease: nil, on: eventLoop
                            ).get()
                            core.logger.info(
                                "token refreshed during a cluster outage written back",
                                metadata: ["connectionId": "\(connection.id)"])
                            return true
                        } catch let error as RPCError where error.reason == .storeUnavailable {
                            return false
                        } catch {
                            // The connection changed meanwhile (a refresh on another host, a revoke): it wins.
                            return true
                        }
                    }
                    return fresh
                default:
                    throw error
                }
            }
    }

    /// The write of a refreshed token: only if the record is still the one the refresh started from (a
    /// re-authorization or another refresh meanwhile wins, and this result is dropped: `connection_unavailable`).
    private func persist(
        _ grant: TokenGrant,
        keepRefreshToken: String,
        for connection: ConnectionRecord,
        lease: LeaseHold?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<AccessToken> {
        var fields = ["accessToken": grant.accessToken]
        fields["refreshToken"] = grant.refreshToken ?? keepRefreshToken
        let plaintext = ConnectionService.sealablePayload(fields)
        let sealer = core.sealer
        let core = self.core
        let id = connection.id
        let revision = connection.revision
        return core.write(on: eventLoop, lease: lease) { txn -> AccessToken in
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
            record.revision = try core.database.nextRevision(txn)
            try core.database.put(txn, record, changesAuthorization: false)
            return AccessToken(
                token: SecretBytes(copying: Array(grant.accessToken.utf8), storage: .transient), tokenType: "Bearer",
                expiresAt: grant.expiresAt, scopes: record.scopes ?? []
            )
        }
    }

    /// Whether the connection is still active under the authorization `connection` had (only a token refresh
    /// or a re-seal changed it since).
    private func sameAuthorization(_ connection: ConnectionRecord) -> Bool {
        let latest = try? core.read { txn in try core.database.connection(txn, id: connection.id) }
        return latest?.status == .active && latest?.authorizationVersion == connection.authorizationVersion
    }

}

/// Bounds of waiting for another cluster host's refresh.
enum ClusterRefresh {
    /// A resolve waits at most this long for another host's refreshed token (the lease is 30 s; a resolve that
    /// needs a token now does not wait all of it).
    static let longestWaitSeconds = 10
}
