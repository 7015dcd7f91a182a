import CredsCrypto
import CredsProtocol
import CredsStore

/// The event outbox's methods (SPEC 11): `events.list` and `watch` (the streaming itself is the server's).
final class EventService: Sendable {
    let core: EngineCore

    init(core: EngineCore) {
        self.core = core
    }

    /// `watch` on the admin socket: every event, or one workspace's.
    func adminWatch(_ params: WatchParams, context: CallContext) -> MethodReply {
        guard params.grant == nil else {
            return .now(
                .failure(
                    RPCError.invalidParams(
                        "grant scopes a watch on the resolve socket; the admin socket takes workspaceId")))
        }
        let subscription = WatchSubscription(scope: WatchScope(workspaceId: params.workspaceId), since: params.since)
        return .now(.success(MethodAnswer(JSONValue.object([:]), facts: context.facts, watch: subscription)))
    }

    /// `watch` on the resolve socket: the grant's workspace and providers (checked as `resolve` checks a grant;
    /// without `requireGrant` and without a grant, every event).
    func resolveWatch(_ params: WatchParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let scope: WatchScope
            if let grant = params.grant {
                let digest = Digest.sha256(grant.utf8)
                guard let record = try core.read({ txn in try validGrant(txn, digest: digest) }) else {
                    throw RPCError(.grantInvalid, "the grant is unknown, expired or revoked")
                }
                if let workspace = params.workspaceId, workspace != record.workspaceId {
                    var error = RPCError(.forbidden, "the grant does not cover this workspace")
                    error.auditsAsRefusal = true
                    throw error.auditing(["workspaceId": record.workspaceId])
                }
                scope = WatchScope(workspaceId: record.workspaceId, providers: record.providers, grantDigest: digest)
            } else {
                guard !core.resolveConfig.requireGrant else {
                    throw RPCError(.grantRequired, "this call needs an execution grant (grants.issue)")
                }
                scope = WatchScope(workspaceId: params.workspaceId)
            }
            var facts = context.facts
            facts.workspaceId = scope.workspaceId
            return MethodAnswer(
                JSONValue.object([:]), facts: facts, watch: WatchSubscription(scope: scope, since: params.since))
        }
    }

    /// The grant stored under `digest` if it is still valid.
    private func validGrant(_ txn: borrowing Transaction, digest: [UInt8]) throws -> GrantRecord? {
        guard let record = try core.database.grant(txn, digest: digest), record.expiresAt > Timestamp.now() else {
            return nil
        }
        return record
    }

    /// `events.list`: events after `since`, oldest first; `nextSince` for the next page (past every event looked
    /// at, matching or not).
    func list(_ params: EventsListParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let (events, scannedThrough) = try core.read { txn in
                try core.database.events.list(
                    txn, since: params.since, limit: params.limit, workspaceId: params.workspaceId)
            }
            let result: JSONValue = [
                "events": .array(events.map(\.json)),
                "nextSince": .int(Int64(clamping: scannedThrough)),
            ]
            return MethodAnswer(result, facts: context.facts)
        }
    }
}
