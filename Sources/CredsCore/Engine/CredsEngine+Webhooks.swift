import CredsCatalog
public import CredsProtocol
import CredsCrypto
import CredsStore

extension CredsEngine {
    /// Tolerance of a webhook timestamp, either way, in seconds.
    static let webhookTolerance: Int64 = 300

    /// `events.verify`: checks a Svix-signed webhook with the stored secret, which never leaves credsd.
    public func eventsVerify(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        let params = try Params(raw, allowed: ["workspaceId", "provider", "grant", "connectionId", "headers", "body"])
        let workspaceId = try params.identifier("workspaceId")
        let providerId = try params.identifier("provider")
        let grant = try params.optionalString("grant")
        let connectionId = try params.optionalIdentifier("connectionId")
        let body = try params.string("body")
        let headers = try Self.lowercasedHeaders(try params.object("headers"))
        guard let messageId = headers["svix-id"], let timestampText = headers["svix-timestamp"],
            let signatures = headers["svix-signature"]
        else {
            throw RPCError(.invalidParams, "headers must include svix-id, svix-timestamp and svix-signature")
        }
        guard let timestamp = Int64(timestampText) else {
            throw RPCError(.invalidParams, "svix-timestamp must be whole seconds since the epoch")
        }
        let (provider, connection) = try read { txn in
            // The grant first: nothing a caller without one sends (a provider id, say) reaches an audit entry.
            try checkGrant(txn, grant: grant, workspaceId: workspaceId, provider: providerId)
            let provider = try catalog.connectableProvider(providerId)
            guard provider.fields.contains(where: { $0.name == "webhookSecret" }) else {
                throw RPCError(.invalidParams, "\(provider.displayName) has no webhook verification")
            }
            return (
                provider, try webhookConnection(txn, provider: provider, workspaceId: workspaceId, named: connectionId)
            )
        }
        let now = Timestamp.now()
        // Compared as a window around now: `timestamp` is whatever the sender put in the header, and
        // `abs(now - timestamp)` trapped on -2^63 (one request took the daemon down).
        let nowSeconds = now / 1_000_000
        guard timestamp >= nowSeconds - Self.webhookTolerance, timestamp <= nowSeconds + Self.webhookTolerance else {
            throw RPCError(
                .timestampOutOfTolerance, "the webhook timestamp is more than 5 minutes from now",
                data: ["connectionId": connection.id.json]
            )
        }
        let secret = try webhookKey(connection)
        let expected = HMAC.sha256(key: secret, message: Array("\(messageId).\(timestampText).\(body)".utf8))
        let matched = signatures.split(separator: " ").contains { candidate in
            let parts = candidate.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let given = Base64.decode(String(parts[1])) else { return false }
            return HMAC.constantTimeEquals(given, expected)
        }
        guard matched else {
            throw RPCError(.signatureInvalid, "no signature matches", data: ["connectionId": connection.id.json])
        }
        guard replayCache.firstSighting("\(connection.id)\u{0}\(messageId)", now: now) else {
            throw RPCError(.replayed, "this svix-id was already verified", data: ["connectionId": connection.id.json])
        }
        let event = (try? JSONValue.parse(Array(body.utf8))) ?? .string(body)
        return [
            "verified": true, "event": event, "workspaceId": workspaceId.json, "provider": .string(provider.id),
            "connectionId": connection.id.json,
        ]
    }

    /// The connection whose webhook secret verifies: the named one (active), else the newest active one.
    private func webhookConnection(
        _ txn: borrowing Transaction,
        provider: Provider,
        workspaceId: Identifier,
        named connectionId: Identifier?
    ) throws -> ConnectionRecord {
        if let connectionId {
            let named = try ownedConnection(
                txn, id: connectionId, workspaceId: workspaceId, provider: provider.identifier)
            guard named.status == .active else {
                throw RPCError(
                    .connectionUnavailable, "the connection is \(named.status.rawValue)",
                    data: ["connectionId": named.id.json, "status": .string(named.status.rawValue)]
                )
            }
            return named
        }
        let active = try database.connections(txn, workspaceId: workspaceId, provider: provider.identifier)
            .filter { $0.status == .active }
        guard let newest = active.max(by: { !$0.isNewer(than: $1) }) else {
            throw RPCError(.noCredential, "workspace has no active \(provider.displayName) connection")
        }
        return newest
    }

    /// The decoded `whsec_` secret of a connection, in guarded memory.
    private func webhookKey(_ connection: ConnectionRecord) throws(RPCError) -> SecretBytes {
        let fields = try openPayload(connection, sealer: sealer)
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

    private static func lowercasedHeaders(_ headers: [String: JSONValue]) throws(RPCError) -> [String: String] {
        var lowered: [String: String] = [:]
        for (name, value) in headers {
            guard let text = value.stringValue else { throw RPCError.invalidParams("header values must be strings") }
            lowered[name.lowercased()] = text
        }
        return lowered
    }
}
