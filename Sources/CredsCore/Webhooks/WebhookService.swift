import CredsCatalog
import CredsCrypto
import CredsProtocol
import CredsStore

/// Webhooks providers send to the workspace: `events.verify` checks a Svix signature with the stored secret,
/// which never leaves credsd, and refuses replays.
struct WebhookService: Sendable {
    /// Tolerance of a webhook timestamp, either way, in seconds.
    static let tolerance: Int64 = 300

    let core: EngineCore
    let grants: GrantService
    let replayCache = ReplayCache(retention: .seconds(2 * WebhookService.tolerance))

    /// `events.verify`.
    func verify(_ params: EventsVerifyParams, context: CallContext) -> MethodReply {
        let reply = MethodReply.now { () throws(RPCError) in try verified(params, context: context) }
        // In cluster mode a replay to another host is refused too, while the database can say so (SPEC 10).
        guard let cluster = core.cluster, case .now(.success(let answer)) = reply,
            let connectionId = answer.facts.connectionId, let messageId = params.headers["svix-id"]
        else { return reply }
        let sighting = Digest.sha256(Array("\(connectionId)\u{0}\(messageId)".utf8))
        let promise = context.eventLoop.makePromise(of: MethodAnswer.self)
        promise.completeWithTask {
            do {
                guard try await cluster.firstSighting(sighting) else {
                    throw RPCError(
                        .replayed, "this svix-id was already verified", data: ["connectionId": connectionId.json])
                }
            } catch let error as RPCError where error.reason == .storeUnavailable && cluster.writeRefusal() != nil {
                // The database is away (the host knows it is out of contact): this host's own memory of ids is all
                // there is. In contact but the check failed (a slow database): refused, and the sender retries.
            }
            return answer
        }
        return .later(promise.futureResult)
    }

    private func verified(_ params: EventsVerifyParams, context: CallContext) throws(RPCError) -> MethodAnswer {
        guard let messageId = params.headers["svix-id"], let timestampText = params.headers["svix-timestamp"],
            let signatures = params.headers["svix-signature"]
        else {
            throw RPCError(.invalidParams, "headers must include svix-id, svix-timestamp and svix-signature")
        }
        guard let timestamp = Int64(timestampText) else {
            throw RPCError(.invalidParams, "svix-timestamp must be whole seconds since the epoch")
        }
        let (provider, connection) = try core.read { txn in
            // The grant first: nothing a caller without one sends (a provider id, say) reaches an audit entry.
            try grants.check(txn, grant: params.grant, workspaceId: params.workspaceId, provider: params.provider)
            let provider = try core.catalog.connectableProvider(params.provider)
            guard provider.fields.contains(where: { $0.name == "webhookSecret" }) else {
                throw RPCError(.invalidParams, "\(provider.displayName) has no webhook verification")
            }
            return (
                provider,
                try webhookConnection(
                    txn, provider: provider, workspaceId: params.workspaceId, named: params.connectionId)
            )
        }
        let now = Timestamp.now()
        // Compared as a window around now: `timestamp` is whatever the sender put in the header, and
        // `abs(now - timestamp)` trapped on -2^63 (one request took the daemon down).
        let nowSeconds = now.seconds
        guard timestamp >= nowSeconds - Self.tolerance, timestamp <= nowSeconds + Self.tolerance else {
            throw RPCError(
                .timestampOutOfTolerance, "the webhook timestamp is more than 5 minutes from now",
                data: ["connectionId": connection.id.json]
            )
        }
        let secret = try webhookKey(connection)
        let expected = HMAC.sha256(key: secret, message: Array("\(messageId).\(timestampText).\(params.body)".utf8))
        let matched = signatures.split(separator: " ").contains { candidate in
            let parts = candidate.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let given = Base64.decode(String(parts[1])) else {
                return false
            }
            return HMAC.constantTimeEquals(given, expected)
        }
        guard matched else {
            throw RPCError(.signatureInvalid, "no signature matches", data: ["connectionId": connection.id.json])
        }
        guard replayCache.firstSighting("\(connection.id)\u{0}\(messageId)", now: now) else {
            throw RPCError(
                .replayed, "this svix-id was already verified", data: ["connectionId": connection.id.json])
        }
        let event = (try? JSONValue.parse(Array(params.body.utf8))) ?? .string(params.body)
        let result: JSONValue = [
            "verified": true, "event": event, "workspaceId": params.workspaceId.json,
            "provider": .string(provider.id),
            "connectionId": connection.id.json,
        ]
        var facts = context.facts
        facts.connectionId = connection.id
        return MethodAnswer(result, facts: facts)
    }

    /// The connection whose webhook secret verifies: the named one (active), else the newest active one.
    private func webhookConnection(
        _ txn: borrowing Transaction,
        provider: Provider,
        workspaceId: Identifier,
        named connectionId: Identifier?
    ) throws -> ConnectionRecord {
        if let connectionId {
            let named = try core.ownedConnection(
                txn, id: connectionId, workspaceId: workspaceId, provider: provider.identifier)
            guard named.status == .active else {
                throw RPCError(
                    .connectionUnavailable, "the connection is \(named.status.rawValue)",
                    data: ["connectionId": named.id.json, "status": .string(named.status.rawValue)]
                )
            }
            return named
        }
        let active = try core.database.connections(txn, workspaceId: workspaceId, provider: provider.identifier)
            .filter { $0.status == .active }
        guard let newest = active.max(by: { !$0.isNewer(than: $1) }) else {
            throw RPCError(.noCredential, "workspace has no active \(provider.displayName) connection")
        }
        return newest
    }

    /// The decoded `whsec_` secret of a connection, in guarded memory.
    private func webhookKey(_ connection: ConnectionRecord) throws(RPCError) -> SecretBytes {
        let fields = try core.openPayload(connection, sealer: core.sealer)
        guard let secret = fields["webhookSecret"] else {
            throw RPCError(
                .noCredential, "the connection has no webhook secret", data: ["connectionId": connection.id.json]
            )
        }
        let encoded = secret.hasPrefix("whsec_") ? secret.dropFirst(6) : Substring(secret)
        guard let key = Base64.decodeSecret(encoded.utf8) else {
            throw RPCError(
                .noCredential, "the stored webhook secret is not whsec_ followed by base64",
                data: ["connectionId": connection.id.json]
            )
        }
        return key
    }
}
