import CredsCatalog
import CredsOAuth
import CredsProtocol
import CredsStore
import NIOCore

/// `connections.test` (SPEC 11): one live, read-only request to the provider with the stored key, as the catalog's
/// `probe` describes. A clear rejection puts an `active` connection in `error`; a pass (or an `unverified` key that
/// authenticated) puts an `error` connection back to `active`; a failure on credsd's side or the provider's
/// (network, timeout, 5xx, an answer the probe does not name) changes nothing. Status changes are writes, with
/// their events, and only if the connection did not change while the probe ran.
struct ProbeService: Sendable {
    let core: EngineCore
    let client: TokenEndpointClient
    /// `[providers.<id>] baseUrl` overrides.
    let baseUrls: [String: String]

    /// What one probe found.
    struct Finding: Sendable {
        var meaning: Probe.Meaning?
        var httpStatus: Int?
        /// Why it proves nothing, when it does not.
        var problem: String?
        var latencyMs: Int64
    }

    func test(_ params: ConnectionParams, context: CallContext) -> MethodReply {
        let prepared: (ConnectionRecord, Probe, [(String, String)])
        do throws(RPCError) {
            prepared = try core.read { txn in try prepare(txn, params) }
        } catch {
            return .now(.failure(error))
        }
        let (connection, probe, headers) = prepared
        let core = self.core
        return .later(
            send(probe, for: connection, headers: headers, on: context.eventLoop).flatMap { finding in
                core.writeAnswer(context: context) { txn in
                    try Self.settle(core, txn, connection, finding)
                    return MethodAnswer(Self.answer(finding), facts: Self.facts(context.facts, connection))
                }
            })
    }

    /// A background re-test (`[health] probeEverySeconds`): the same probe and the same status rules, with no
    /// caller (no actor, no audit entry: the status change is an event). Connections that cannot be probed (no
    /// longer active, unreadable) are skipped.
    func retest(_ connectionId: Identifier, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let core = self.core
        let prepared: (ConnectionRecord, Probe, [(String, String)])
        do {
            prepared = try core.read { txn -> (ConnectionRecord, Probe, [(String, String)]) in
                guard let connection = try core.database.connection(txn, id: connectionId),
                    connection.status == .active,
                    let probe = core.catalog.provider(connection.provider.text)?.probe,
                    let provider = core.catalog.provider(connection.provider.text)
                else { throw RPCError(.notFound, "") }
                let fields = try core.openPayload(connection, sealer: core.sealer)
                return (
                    connection, probe,
                    provider.headers.map { ($0.name, HeaderTemplate.filled($0.template, fields: fields)) }
                )
            }
        } catch {
            return eventLoop.makeSucceededFuture(())
        }
        let (connection, probe, headers) = prepared
        return send(probe, for: connection, headers: headers, on: eventLoop).flatMap { finding in
            guard finding.meaning != nil else { return eventLoop.makeSucceededFuture(()) }
            return core.write(on: eventLoop) { txn in try Self.settle(core, txn, connection, finding) }
        }.recover { _ in }
    }

    /// Sends the probe and reads what its answer means.
    private func send(
        _ probe: Probe,
        for connection: ConnectionRecord,
        headers: [(String, String)],
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Finding> {
        let url = (baseUrls[connection.provider.text] ?? probe.baseUrl) + probe.path
        let started = ContinuousClock.now
        return client.get(url, headers: headers, on: eventLoop).map { reply -> Finding in
            let latency = Self.milliseconds(ContinuousClock.now - started)
            guard let meaning = probe.meaning(status: reply.status, body: reply.body) else {
                return Finding(
                    httpStatus: reply.status,
                    problem: reply.status >= 500 ? "provider_error" : "inconclusive", latencyMs: latency)
            }
            return Finding(meaning: meaning, httpStatus: reply.status, latencyMs: latency)
        }.recover { error in
            let timedOut = (error as? TokenEndpointError)?.kind == .timeout
            return Finding(
                problem: timedOut ? "timeout" : "unreachable",
                latencyMs: Self.milliseconds(ContinuousClock.now - started))
        }
    }

    /// Checks the actor and the connection, and builds the probe's headers from the stored key.
    private func prepare(_ txn: borrowing Transaction, _ params: ConnectionParams) throws
        -> (ConnectionRecord, Probe, [(String, String)])
    {
        let connection = try core.existingConnection(txn, id: params.connectionId)
        do {
            try core.authorize(txn, actor: params.actor, workspaceId: connection.workspaceId, write: true)
        } catch let error as RPCError {
            // The owner's audit trail shows the attempt; the caller learns nothing about the owner.
            throw error.auditing(["workspaceId": connection.workspaceId, "provider": connection.provider])
        }
        guard let provider = core.catalog.provider(connection.provider.text), let probe = provider.probe else {
            throw RPCError.invalidParams("\(connection.provider.text) connections cannot be tested (no probe)")
        }
        guard connection.status == .active || connection.status == .error else {
            throw RPCError(
                .connectionUnavailable, "the connection is \(connection.status.rawValue)",
                data: ["connectionId": connection.id.json, "status": .string(connection.status.rawValue)])
        }
        let fields = try core.openPayload(connection, sealer: core.sealer)
        let headers = provider.headers.map { ($0.name, HeaderTemplate.filled($0.template, fields: fields)) }
        return (connection, probe, headers)
    }

    /// Writes the status a finding proves, if the connection is still the one probed.
    private static func settle(
        _ core: EngineCore,
        _ txn: borrowing Transaction,
        _ probed: ConnectionRecord,
        _ finding: Finding
    ) throws {
        guard let meaning = finding.meaning,
            var record = try core.database.connection(txn, id: probed.id), record.revision == probed.revision
        else { return }
        switch (meaning, record.status) {
        case (.invalid, .active):
            let status = finding.httpStatus.map { " (HTTP \($0))" } ?? ""
            record.status = .error
            record.statusReason = "probe_rejected"
            record.lastError = "the provider rejected this key when it was tested\(status); store a new key"
        case (.valid, .error), (.unverified, .error):
            record.status = .active
            record.statusReason = "probe_passed"
            record.lastError = nil
        default:
            return
        }
        record.updatedAt = Timestamp.now()
        record.revision = try core.database.nextRevision(txn)
        try core.database.put(txn, record, changesAuthorization: false)
    }

    private static func answer(_ finding: Finding) -> JSONValue {
        var object: [String: JSONValue] = [
            "ok": .bool(finding.meaning == .valid || finding.meaning == .unverified),
            "checkedAt": .string(Timestamp.now().rfc3339), "latencyMs": .int(finding.latencyMs),
        ]
        if let status = finding.httpStatus { object["httpStatus"] = .int(Int64(status)) }
        switch finding.meaning {
        case .invalid: object["problem"] = "rejected"
        case .unverified: object["problem"] = "unverified"
        case .valid: break
        case nil: object["problem"] = .string(finding.problem ?? "inconclusive")
        }
        return .object(object)
    }

    private static func facts(_ facts: CallFacts, _ connection: ConnectionRecord) -> CallFacts {
        var facts = facts
        facts.workspaceId = connection.workspaceId
        facts.provider = connection.provider
        return facts
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
