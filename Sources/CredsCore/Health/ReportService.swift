import CredsCatalog
import CredsProtocol
import CredsStore

/// `resolve.report` (SPEC 11): what the provider answered a call made with a resolved credential. Checked under
/// the caller's grant as `resolve` is; the credential it names must be one of the grant's workspace.
///
/// - `unauthorized` about a `byo` API key: three within 5 minutes put the connection in `error`
///   (`unauthorized_reports`), with one `connection.status_changed` event. About an OAuth connection: one refresh,
///   through the token single flight, at most one a minute per connection; a refusal puts it in `error`.
/// - `rate_limited`, `quota_exceeded`, `upstream_error`: the connection (or the platform's key for the provider,
///   for this workspace only) cools down for `retryAfterSeconds` (default 60 s, at most 1 h); resolves meanwhile
///   carry `coolingDownUntil`. A cooldown that starts is a `connection.cooling_down` event, at most one a minute.
/// - `ok` ends a cooldown, and earlier `unauthorized` reports stop counting.
struct ReportService: Sendable {
    let core: EngineCore
    let grants: GrantService
    let tokens: TokenService

    /// The connection or platform keys a report is about.
    private struct Subject {
        let provider: Provider
        let connection: ConnectionRecord?
        /// For `built_in`: the key named by `builtinKeyId`, or every key of the pool when it names none.
        var builtinKeyIds: [String] = []
        /// For a connection: whether its workspace's `auto` resolves fall back to the platform key while it cools
        /// down after a failure of the reported class (`fallbackOn`, SPEC 12).
        var fallsBack = false
    }

    func report(_ params: ResolveReportParams, context: CallContext) -> MethodReply {
        let subject: Subject
        do throws(RPCError) {
            subject = try core.read { txn in
                let subject = try find(txn, params)
                try count(txn, params)
                return subject
            }
        } catch {
            return .now(.failure(error))
        }
        var facts = params.facts
        facts.connectionId = subject.connection?.id
        let answer = MethodAnswer(JSONValue.object([:]), facts: facts)
        let now = Timestamp.now()
        let health = core.health
        let cooling: [ConnectionHealth.Subject] =
            subject.connection.map { [.connection($0.id)] }
            ?? subject.builtinKeyIds.map { .builtinKey(workspace: params.workspaceId, keyId: $0) }
        let version = subject.connection?.authorizationVersion ?? 0
        switch params.outcome {
        case .ok:
            for each in cooling { health.clear(each) }
            if let connection = subject.connection, health.fallbackEnded(connection.id) {
                core.usage.record([EventDraft.fallbackEnded(connection, reason: "ok_reported")])
            }
            return .now(.success(answer))
        case .unauthorized:
            if let connection = subject.connection, subject.provider.mode == .oauthUser, connection.status == .active {
                // The token may be valid by its expiry and still refused: one refresh, shared, at most a minute.
                guard health.mayForceRefresh(connection: connection.id, now: now) else { return .now(.success(answer)) }
                return .later(
                    tokens.forceRefresh(connection, on: context.eventLoop).map { answer }.flatMapErrorThrowing { _ in
                        // The refresh failed or was refused: that is the refresh's outcome (an `error` status on a
                        // refusal), not the report's.
                        answer
                    })
            }
            guard let connection = subject.connection, subject.provider.mode == .service,
                connection.status == .active,
                health.unauthorized(connection: connection.id, version: version, now: now)
            else { return .now(.success(answer)) }
            return markUnauthorized(connection, httpStatus: params.httpStatus, answer: answer, context: context)
        case .rateLimited, .quotaExceeded, .upstreamError:
            var until = now
            var announce = false
            for each in cooling {
                let cooled = health.coolDown(
                    each, version: version, reason: params.outcome.rawValue, seconds: params.retryAfterSeconds, now: now
                )
                until = max(until, cooled.until)
                announce = announce || cooled.announce
            }
            guard announce else { return .now(.success(answer)) }
            // The fallback's start is this event (from byo to built_in); its end is one too (`fallbackEnded`).
            if let connection = subject.connection, subject.fallsBack { health.startFallback(connection.id) }
            let event = EventDraft(
                type: .connectionCoolingDown, workspaceId: params.workspaceId, provider: subject.provider.identifier,
                connectionId: subject.connection?.id, from: subject.fallsBack ? CredentialSource.byo.rawValue : nil,
                to: subject.fallsBack ? CredentialSource.builtIn.rawValue : nil, reason: params.outcome.rawValue,
                detail: Self.coolingDetail(
                    params, until: until, builtin: subject.connection == nil, fallsBack: subject.fallsBack))
            return .later(core.recordEvents([event], on: context.eventLoop).map { answer })
        }
    }

    /// The subject: the named connection, or the workspace's newest active one for `byo`; the provider's platform
    /// key for `built_in`.
    private func find(_ txn: borrowing Transaction, _ params: ResolveReportParams) throws -> Subject {
        try grants.check(txn, grant: params.grant, workspaceId: params.workspaceId, provider: params.provider)
        if let refusal = core.cluster?.readRefusal() { throw refusal }
        let provider = try core.catalog.connectableProvider(params.provider)
        guard params.source == .byo else {
            guard let pool = core.secrets.builtinKeys[provider.id] else {
                throw RPCError(
                    .builtinUnavailable, "the platform has no built-in \(provider.displayName) key",
                    data: ["provider": .string(provider.id)])
            }
            if let id = params.builtinKeyId {
                guard pool.ids.contains(id) else {
                    throw RPCError.invalidParams("builtinKeyId is not one of the platform's \(provider.id) keys")
                }
                return Subject(provider: provider, connection: nil, builtinKeyIds: [id])
            }
            return Subject(provider: provider, connection: nil, builtinKeyIds: pool.ids)
        }
        let routing =
            provider.mode == .service
            ? try core.database.routingPolicy(txn, workspaceId: params.workspaceId, provider: provider.identifier)
            : nil
        let fallsBack =
            routing?.mode == .auto && routing?.fallbackOn.contains(params.outcome.rawValue) == true
            && core.secrets.builtinKeys[provider.id] != nil
        let newest = try core.database.connections(
            txn, workspaceId: params.workspaceId, provider: provider.identifier
        ).filter { $0.status == .active }.max { !$0.isNewer(than: $1) }
        if let id = params.connectionId {
            let connection = try core.ownedConnection(
                txn, id: id, workspaceId: params.workspaceId, provider: provider.identifier)
            // Resolves fall back only from the connection they would take: the newest active one.
            return Subject(provider: provider, connection: connection, fallsBack: fallsBack && newest?.id == id)
        }
        guard let newest else {
            throw RPCError(
                .noCredential, "workspace has no active \(provider.displayName) connection to report on",
                data: ["provider": .string(provider.id)])
        }
        return Subject(provider: provider, connection: newest, fallsBack: fallsBack)
    }

    /// Counts the report in usage: by outcome, and its units by source. Built-in units count against the
    /// workspace's budget (`maxUnits`, SPEC 12).
    private func count(_ txn: borrowing Transaction, _ params: ResolveReportParams) throws {
        let key = UsageLedger.Key(workspaceId: params.workspaceId, provider: params.provider)
        let budget =
            params.source == .builtIn && (params.units ?? 0) > 0
            ? try core.database.budget(txn, workspaceId: params.workspaceId, provider: params.provider) : nil
        try core.usage.countReport(
            key, outcome: params.outcome.rawValue, source: params.source, units: params.units ?? 0, budget: budget,
            now: .now()
        ) { today in
            try core.database.storedUse(txn, key, today: today)
        }
    }

    /// Puts the connection in `error`, unless it changed meanwhile (then the reports were about a key it no
    /// longer holds, and nothing is written).
    private func markUnauthorized(
        _ connection: ConnectionRecord,
        httpStatus: Int?,
        answer: MethodAnswer,
        context: CallContext
    ) -> MethodReply {
        let revision = connection.revision
        let status = httpStatus.map { " (HTTP \($0))" } ?? ""
        let message =
            "the provider refused this key \(ConnectionHealth.unauthorizedReports) times within 5 minutes\(status); "
            + "store a new key to use the connection again"
        return .later(
            core.write(on: context.eventLoop) { [core] txn in
                _ = try core.setErrorStatus(
                    txn, connectionId: connection.id, message: message, reason: "unauthorized_reports",
                    if: { $0.revision == revision && $0.status == .active },
                    else: RPCError(.connectionUnavailable, "the connection changed meanwhile"))
            }.map { _ in answer }.flatMapErrorThrowing { error in
                // Changed meanwhile (a new key stored, revoked): the reports were about what it held before.
                if (error as? RPCError)?.reason == .connectionUnavailable { return answer }
                throw error
            })
    }

    private static func coolingDetail(_ params: ResolveReportParams, until: Timestamp, builtin: Bool, fallsBack: Bool)
        -> String
    {
        let what = builtin ? "the platform's \(params.provider.text) key" : "this connection"
        let status = params.httpStatus.map { " (HTTP \($0))" } ?? ""
        let fallback = fallsBack ? "; the workspace's resolves use the platform's key meanwhile" : ""
        return "the provider answered \(params.outcome.rawValue)\(status): \(what) cools down until \(until.rfc3339)"
            + fallback
    }
}
