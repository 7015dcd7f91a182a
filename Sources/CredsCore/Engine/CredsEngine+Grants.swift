import CredsCatalog
public import CredsProtocol
import CredsCrypto
import CredsStore
public import NIOCore

extension CredsEngine {
    /// Default lifetime of an execution grant.
    public static let defaultGrantTTL: Int64 = 900
    /// Longest lifetime of an execution grant.
    public static let maxGrantTTL: Int64 = 86_400

    /// `grants.issue`: a bearer token for the resolve socket, stored only as its SHA-256.
    public func grantsIssue(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        let record: GrantRecord
        do {
            let params = try Params(raw, allowed: ["workspaceId", "providers", "ttlSeconds"])
            let workspaceId = try params.identifier("workspaceId")
            let providers = try params.optionalIdentifierArray("providers")
            for provider in providers ?? [] { _ = try catalog.connectableProvider(provider) }
            let ttl = try params.optionalInt("ttlSeconds") ?? Self.defaultGrantTTL
            guard (1...Self.maxGrantTTL).contains(ttl) else {
                throw RPCError.invalidParams("ttlSeconds must be from 1 to \(Self.maxGrantTTL)")
            }
            let now = Timestamp.now()
            record = GrantRecord(
                workspaceId: workspaceId, providers: providers.map { Array(Set($0)).sorted() }, createdAt: now,
                expiresAt: now + ttl * 1_000_000
            )
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
        let grant = Random.token(prefix: "cg_", byteCount: 32)
        let digest = Digest.sha256(grant.utf8)
        let database = self.database
        return write(context: context) { txn in
            try database.sweepExpiredGrants(txn, now: record.createdAt)
            try txn.put(database.grants, digest, RecordCoding.encode(record))
            var result: [String: JSONValue] = [
                "grant": .string(grant), "expiresAt": .string(Timestamp.rfc3339(record.expiresAt)),
                "workspaceId": record.workspaceId.json,
            ]
            result["providers"] = record.providers.map { .array($0.map(\.json)) } ?? .null
            return .object(result)
        }
    }

    /// `grants.revoke`: the grant stops working at once.
    public func grantsRevoke(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        let digest: [UInt8]
        do {
            let params = try Params(raw, allowed: ["grant"])
            digest = Digest.sha256(try params.string("grant").utf8)
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
        let database = self.database
        return write(context: context) { txn in
            guard try txn.delete(database.grants, digest) else {
                throw RPCError(.notFound, "no such grant")
            }
            return ["revoked": true]
        }
    }

    /// Checks the grant of a resolve-socket call against `requireGrant`, its expiry and its scope.
    func checkGrant(
        _ txn: borrowing Transaction,
        grant: String?,
        workspaceId: Identifier,
        provider: Identifier
    ) throws {
        guard let grant else {
            if resolveConfig.requireGrant {
                throw RPCError(.grantRequired, "this call needs an execution grant (grants.issue)")
            }
            return
        }
        guard let record = try? database.grant(txn, digest: Digest.sha256(grant.utf8)),
            record.expiresAt > Timestamp.now()
        else {
            throw RPCError(.grantInvalid, "the grant is unknown, expired or revoked")
        }
        guard record.covers(workspaceId: workspaceId, provider: provider) else {
            // Audited under the grant's own workspace and paced like other refusals: a grant for one workspace
            // must not let its holder write into another workspace's trail.
            var error = RPCError(.forbidden, "the grant does not cover this workspace and provider")
            error.auditsAsRefusal = true
            throw error.auditing(["workspaceId": record.workspaceId])
        }
    }
}
