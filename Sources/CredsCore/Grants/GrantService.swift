import CredsCatalog
import CredsCrypto
import CredsProtocol
import CredsStore

/// Execution grants: bearer tokens for the resolve socket, stored only as their SHA-256 (`grants.issue`,
/// `grants.revoke`), and the check every resolve-socket call makes first.
struct GrantService: Sendable {
    /// Default lifetime of an execution grant, in seconds.
    static let defaultTTL: Int64 = 900
    /// Longest lifetime of an execution grant, in seconds.
    static let maxTTL: Int64 = 86_400

    let core: EngineCore

    /// `grants.issue`.
    func issue(_ params: GrantsIssueParams, context: CallContext) -> MethodReply {
        do {
            for provider in params.providers ?? [] { _ = try core.catalog.connectableProvider(provider) }
        } catch {
            return .now(.failure(error))
        }
        let now = Timestamp.now()
        let record = GrantRecord(
            workspaceId: params.workspaceId, providers: params.providers.map { Array(Set($0)).sorted() },
            createdAt: now, expiresAt: now + .seconds(params.ttlSeconds)
        )
        let grant = Random.token(prefix: "cg_", byteCount: 32)
        let digest = Digest.sha256(grant.utf8)
        let database = core.database
        let facts = context.facts
        return core.write(context: context) { txn in
            // Not on a cluster host: each host's clock would decide for all, and hosts would conflict deleting the
            // same rows (expired grants are refused by their expiry either way).
            if core.cluster == nil { try database.sweepExpiredGrants(txn, now: record.createdAt) }
            try txn.put(database.grants, digest, RecordCoding.encode(record))
            var result: [String: JSONValue] = [
                "grant": .string(grant), "expiresAt": .string(record.expiresAt.rfc3339),
                "workspaceId": record.workspaceId.json,
            ]
            result["providers"] = record.providers.map { .array($0.map(\.json)) } ?? .null
            return MethodAnswer(JSONValue.object(result), facts: facts)
        }
    }

    /// `grants.revoke`: the grant stops working at once.
    func revoke(_ params: GrantsRevokeParams, context: CallContext) -> MethodReply {
        let digest = Digest.sha256(params.grant.utf8)
        let database = core.database
        let facts = context.facts
        return core.write(context: context) { txn in
            guard try txn.delete(database.grants, digest) else {
                throw RPCError(.notFound, "no such grant")
            }
            return MethodAnswer(["revoked": true] as JSONValue, facts: facts)
        }
    }

    /// Checks the grant of a resolve-socket call against `requireGrant`, its expiry and its scope.
    func check(
        _ txn: borrowing Transaction,
        grant: String?,
        workspaceId: Identifier,
        provider: Identifier
    ) throws {
        guard let grant else {
            if core.resolveConfig.requireGrant {
                throw RPCError(.grantRequired, "this call needs an execution grant (grants.issue)")
            }
            return
        }
        guard let record = try? core.database.grant(txn, digest: Digest.sha256(grant.utf8)),
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
