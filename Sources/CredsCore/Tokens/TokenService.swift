import CredsCrypto
import CredsOAuth
import CredsProtocol
import CredsStore
import NIOCore

/// Access tokens of OAuth connections: the token on hand while it is fresh, else a new one from the
/// connection's `TokenSource` (Google refresh, GitHub mint), one request per connection in flight however many
/// resolves wait, back-off after failures, and a clear re-auth signal when the provider says no (`TokenState`).
final class TokenService: Sendable {
    let core: EngineCore
    let states = TokenStates()
    let installationTokens = HeldTokenCache()
    /// Google tokens refreshed while the cluster database was away (`GoogleTokenSource`).
    let outageTokens = HeldTokenCache()
    /// Those tokens, to write back once the database returns.
    let writeBacks = OutageWriteBacks()
    private let google: GoogleTokenSource
    private let github: GitHubTokenSource

    init(core: EngineCore, oauth: OAuthSettings, tokenClient: TokenEndpointClient) {
        self.core = core
        google = GoogleTokenSource(
            core: core, settings: oauth.google, tokenClient: tokenClient, outageTokens: outageTokens,
            writeBacks: writeBacks)
        github = GitHubTokenSource(
            settings: oauth.github, tokenClient: tokenClient, installationTokens: installationTokens)
    }

    /// Forgets what is held for a connection that was revoked or deleted: its minted token and its state.
    func forget(_ connectionId: Identifier) {
        installationTokens.remove(connectionId)
        outageTokens.remove(connectionId)
        states.remove(connectionId)
    }

    /// A valid access token for an OAuth connection.
    func accessToken(_ connection: ConnectionRecord, context: CallContext) -> EventLoopFuture<AccessToken> {
        let eventLoop = context.eventLoop
        let source: any TokenSource
        switch connection.provider.text {
        case "google-workspace": source = google
        case "github": source = github
        default:
            return eventLoop.makeFailedFuture(RPCError(.noCredential, "no token source for \(connection.provider)"))
        }
        let fields: [String: String]
        let current: AccessToken?
        do {
            fields = try core.openPayload(connection, sealer: core.sealer)
            current = try source.current(connection, fields: fields)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        if let message = source.refusedWithoutAsking(connection, fields: fields) {
            return requireReauth(connection, message, on: eventLoop)
        }
        let now = Timestamp.now()
        let window = Duration.seconds(core.resolveConfig.refreshWindowSeconds)
        if let current, let expiresAt = current.expiresAt, expiresAt - now > window {
            return eventLoop.makeSucceededFuture(current)
        }
        // Past this point a new token is wanted; while none can be had, the current one serves until it expires.
        // A cluster host that cannot write the new token back (the database is away) is in the same place as one
        // whose provider is away: the current token serves while it is valid, refreshes back off.
        let fallback = { @Sendable (error: any Error) -> EventLoopFuture<AccessToken> in
            if let error = error as? RPCError, error.reason != .upstreamUnavailable, error.reason != .storeUnavailable {
                return eventLoop.makeFailedFuture(error)
            }
            if let current, let expiresAt = current.expiresAt, expiresAt > Timestamp.now() {
                return eventLoop.makeSucceededFuture(current)
            }
            return eventLoop.makeFailedFuture(error)
        }
        if let unavailable = source.unavailable(connection, fields: fields) { return fallback(unavailable) }
        switch states.admit(connection.id, revision: connection.revision, now: now, on: eventLoop) {
        case .join(let flight):
            return flight.flatMapError(fallback)
        case .backingOff:
            return fallback(
                RPCError(
                    .upstreamUnavailable, "the provider failed recently; waiting before trying again",
                    data: ["connectionId": connection.id.json]))
        case .reauthRequired(let message):
            return eventLoop.makeFailedFuture(
                RPCError(.reauthRequired, message, data: ["connectionId": connection.id.json]))
        case .stale:
            return eventLoop.makeFailedFuture(
                RPCError(
                    .connectionUnavailable, "the connection changed meanwhile; try again",
                    data: ["connectionId": connection.id.json]))
        case .start(let promise):
            promise.completeWith(fly(source, connection, fields: fields, on: eventLoop))
            return promise.futureResult.flatMapError(fallback)
        }
    }

    /// A refresh asked for by an executor's `unauthorized` report (SPEC 11): the token on hand may be valid by its
    /// expiry and still refused. It joins a refresh already in flight, or starts one through the same single
    /// flight; the back-off after failures, a provider's refusal or a changed record make it do nothing. A refusal
    /// (`invalid_grant`) puts the connection in `error` as any refresh does. The caller limits how often.
    func forceRefresh(_ connection: ConnectionRecord, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let source: any TokenSource
        switch connection.provider.text {
        case "google-workspace": source = google
        case "github": source = github
        default: return eventLoop.makeSucceededFuture(())
        }
        let fields: [String: String]
        do {
            fields = try core.openPayload(connection, sealer: core.sealer)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        if let message = source.refusedWithoutAsking(connection, fields: fields) {
            return requireReauth(connection, message, on: eventLoop).map { _ in }
        }
        guard source.unavailable(connection, fields: fields) == nil else { return eventLoop.makeSucceededFuture(()) }
        switch states.admit(connection.id, revision: connection.revision, now: Timestamp.now(), on: eventLoop) {
        case .join(let flight):
            return flight.map { _ in }
        case .start(let promise):
            promise.completeWith(fly(source, connection, fields: fields, on: eventLoop))
            return promise.futureResult.map { _ in }
        case .backingOff, .reauthRequired, .stale:
            return eventLoop.makeSucceededFuture(())
        }
    }

    /// One refresh or mint, start to end: the reply moves the state machine and the figures, a refusal puts the
    /// connection in `error`, a failure is logged without a secret and answered `upstream_unavailable`.
    private func fly(
        _ source: any TokenSource,
        _ connection: ConnectionRecord,
        fields: [String: String],
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<AccessToken> {
        let id = connection.id
        let revision = connection.revision
        return source.fetch(connection, fields: fields, on: eventLoop).flatMap { reply in
            switch reply {
            case .issued(let token):
                self.settle(id, revision, .issued, figure: "ok")
                return eventLoop.makeSucceededFuture(token)
            case .refused(let message):
                self.settle(id, revision, .refused(message), figure: "reauth_required")
                return self.requireReauth(connection, message, on: eventLoop)
            case .failed(let status):
                self.settle(id, revision, .failed, figure: "failed")
                self.core.logger.warning(
                    "token request failed", metadata: ["conn.id": "\(id)", "http.status": "\(status)"])
                self.recordRefreshFailure(
                    connection, reason: "http_\(status)", detail: "HTTP \(status)")
                return eventLoop.makeFailedFuture(
                    RPCError(
                        .upstreamUnavailable, "the provider answered HTTP \(status)", data: ["connectionId": id.json])
                )
            }
        }.flatMapErrorThrowing { error in
            // Decided errors pass through; the flight still ends. The record changing during the refresh ends it
            // like a success (the new revision starts afresh); anything else (the store refusing the write, say)
            // backs off like a failure, so a full disk does not turn every resolve into a refresh.
            if let error = error as? RPCError {
                if error.reason == .connectionUnavailable {
                    self.states.finish(id, revision: revision, .issued, now: Timestamp.now())
                } else {
                    self.settle(id, revision, .failed, figure: "failed")
                }
                throw error
            }
            self.settle(id, revision, .failed, figure: "failed")
            self.core.logger.warning("token request failed", metadata: ["conn.id": "\(id)", "error": "\(error)"])
            let timedOut = (error as? TokenEndpointError)?.kind == .timeout
            self.recordRefreshFailure(
                connection, reason: timedOut ? "timeout" : "unreachable",
                detail: timedOut ? "no answer in time" : "the provider could not be reached")
            throw RPCError(.upstreamUnavailable, "\(error)", data: ["connectionId": id.json])
        }
    }

    /// A `connection.refresh_failed` event (SPEC 11): the provider failed a refresh or mint (not a refusal, which
    /// is a status change). The connection keeps its status; the next try waits for the back-off, so events come at
    /// most as often as tries. Written to this host's outbox on its own, after the fact: nothing waits for it.
    private func recordRefreshFailure(
        _ connection: ConnectionRecord, reason: String, detail: String
    ) {
        let event = EventDraft(
            type: .connectionRefreshFailed, workspaceId: connection.workspaceId, provider: connection.provider,
            connectionId: connection.id, from: nil, to: nil, reason: reason,
            detail: "a token refresh failed (\(detail)); the current token serves while it is valid, and the "
                + "refresh is tried again after a back-off")
        core.appendEvents([event])
    }

    /// Ends the flight and counts it, once: a flight already ended (a refusal whose write then failed) is not
    /// counted again.
    private func settle(_ id: Identifier, _ revision: UInt64, _ outcome: TokenStates.Outcome, figure: String) {
        if states.finish(id, revision: revision, outcome, now: Timestamp.now()) {
            core.statistics.recordRefresh(figure)
        }
    }

    /// Sets the connection to `error` and answers `reauth_required`; if the record changed since it was read
    /// (re-authorized meanwhile), it is left alone and the answer is `connection_unavailable`.
    private func requireReauth(
        _ connection: ConnectionRecord,
        _ message: String,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<AccessToken> {
        let id = connection.id
        let revision = connection.revision
        let states = self.states
        return core.write(on: eventLoop) { [core] txn in
            _ = try core.setErrorStatus(
                txn, connectionId: id, message: message, reason: "reauth_required", if: { $0.revision == revision },
                else: RPCError(
                    .connectionUnavailable, "the connection changed meanwhile; try again",
                    data: ["connectionId": id.json])
            )
        }.flatMapErrorThrowing { error in
            // The cluster database is away: the provider's refusal stands and is kept here (no call asks the
            // provider again meanwhile); the `error` status is written by the next refusal after it is back.
            if (error as? RPCError)?.reason == .storeUnavailable { return }
            // The `error` status was not written: the refusal is not kept either, so the next call tries again.
            states.clear(id, revision: revision)
            throw error
        }.flatMapThrowing { _ in
            throw RPCError(.reauthRequired, message, data: ["connectionId": id.json])
        }
    }
}
