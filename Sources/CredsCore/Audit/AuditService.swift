import CredsCrypto
import CredsProtocol
import CredsStore
import NIOCore
import Synchronization

/// The audit trail (SPEC section 7): entries of calls that do not wait for their commit go to the writer in
/// batches (`AuditWriter`); refusals are paced per peer uid; `audit.list` and `audit.verify` read it back.
/// Admin writes append their own entry in their commit (`EngineCore.write(context:)`).
final class AuditService: Sendable {
    let core: EngineCore
    let throttle = RefusalThrottle()

    init(core: EngineCore) {
        self.core = core
    }

    /// Records how a call ended in its own transaction, without making anyone wait for it: resolves (success or
    /// failure), admin writes that failed before committing, and any request refused before its params were
    /// valid (those paced per peer uid by `RefusalThrottle`). Returns a future the answer must wait for when the
    /// audit backlog is over its limit (see `AuditQueue`), else nil.
    func recordOutcome(_ context: CallContext, _ outcome: Result<CallFacts, RPCError>) -> EventLoopFuture<Void>? {
        let draft: AuditDraft
        switch outcome {
        case .success(let facts): draft = AuditDraft(context, facts: facts)
        case .failure(let error): draft = AuditDraft(context, error: error)
        }
        if draft.isRefusal {
            let second = Timestamp.now().seconds
            let admission = throttle.admit(peerUid: draft.peerUid, socket: draft.socket, second: second)
            for summary in admission.summaries {
                _ = core.auditWriter.enqueue(Self.summaryDraft(summary), on: context.eventLoop)
            }
            if let closeAt = admission.closeAt {
                let peerUid = draft.peerUid
                let eventLoop = context.eventLoop
                let windowEnd = Timestamp(seconds: closeAt + 1) ?? Timestamp.now()
                let wait = TimeAmount.microseconds(max(0, windowEnd.microseconds - Timestamp.now().microseconds))
                eventLoop.scheduleTask(in: wait) {
                    if let summary = self.throttle.close(peerUid: peerUid, second: closeAt) {
                        _ = self.core.auditWriter.enqueue(Self.summaryDraft(summary), on: eventLoop)
                    }
                }
            }
            guard admission.record else { return nil }
        }
        return core.auditWriter.enqueue(draft, on: context.eventLoop)
    }

    /// The one entry that stands for a second's refusals the throttle left out: method `*`, outcome
    /// `suppressed`, the peer uid and the count.
    private static func summaryDraft(_ summary: RefusalThrottle.Summary) -> AuditDraft {
        AuditDraft(
            socket: summary.socket, peerUid: summary.peerUid, method: "*", outcome: "suppressed",
            suppressed: summary.suppressed)
    }

    /// Appends the `suppressed: N` entries of refusal windows still open, and queues the writer job for every
    /// entry still gathering and the usage counted since the last. Called at shutdown, before the writer stops: the timers that would do both no
    /// longer run then.
    func flushRefusalSummaries() {
        for summary in throttle.closeAll() { _ = core.auditWriter.enqueue(Self.summaryDraft(summary), on: nil) }
        core.auditWriter.flushGathered()
        core.auditWriter.flushUsage()
    }

    /// `audit.list`: entries after sequence number `since`, oldest first. In cluster mode entries name their
    /// `hostId` and come from every host (`AuditListing`).
    func list(_ params: AuditListParams, context: CallContext) -> MethodReply {
        guard let cluster = core.cluster else {
            guard params.hostId == nil else {
                return .now(.failure(RPCError.invalidParams("hostId applies only in cluster mode")))
            }
            return .now { () throws(RPCError) in
                let entries = try AuditListing(core: core, params: params, hostId: nil).local(limit: params.limit)
                return MethodAnswer(AuditListing.answer(entries, since: params.since), facts: context.facts)
            }
        }
        let listing = AuditListing(core: core, params: params, hostId: cluster.hostId)
        if params.hostId?.text == cluster.hostId {
            return .now { () throws(RPCError) in
                let entries = try listing.local(limit: params.limit)
                return MethodAnswer(AuditListing.answer(entries, since: params.since), facts: context.facts)
            }
        }
        let promise = context.eventLoop.makePromise(of: MethodAnswer.self)
        promise.completeWithTask {
            let entries = try await listing.acrossHosts(cluster)
            return MethodAnswer(AuditListing.answer(entries, since: params.since), facts: context.facts)
        }
        return .later(promise.futureResult)
    }

    /// `audit.verify`: walks the kept chain and names the first entry that was changed or removed. In cluster mode
    /// also every host's shipped chain (`hosts`), and that this host's shipped entries are the ones it holds.
    func verify(_ params: NoParams, context: CallContext) -> MethodReply {
        let outcome: (checked: Int, firstBroken: UInt64?)
        do {
            outcome = try core.read { txn in try core.database.auditLog.verify(txn) }
        } catch {
            return .now(.failure(error))
        }
        var result: [String: JSONValue] = [
            "ok": .bool(outcome.firstBroken == nil), "checked": .int(Int64(outcome.checked)),
        ]
        if let broken = outcome.firstBroken { result["firstBroken"] = .int(Int64(clamping: broken)) }
        guard let cluster = core.cluster else {
            return .now(.success(MethodAnswer(JSONValue.object(result), facts: context.facts)))
        }
        let database = core.database
        let local = result
        let promise = context.eventLoop.makePromise(of: MethodAnswer.self)
        promise.completeWithTask {
            var result = local
            let verifier = ShippedChainVerifier(hostId: cluster.hostId)
            // Read before the database's snapshot: every entry shipped by then is in it.
            let ownShipped = try database.auditShippedKept()
            let heads = try await cluster.shippedAudit { verifier.visit($0) }
            let outcomes = verifier.finish(heads: heads, ownShipped: ownShipped) { seq in
                let stored = try? database.environment.read { txn in
                    try txn.get(database.auditLog.entries, AuditLog.key(seq))
                }
                return stored.flatMap { $0 }.flatMap { AuditLog.decode($0) }.flatMap { Hex.decode($0.entry.hash) }
            }
            var hosts: [JSONValue] = []
            for (host, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
                var object: [String: JSONValue] = [
                    "hostId": .string(host), "ok": .bool(outcome.firstBroken == nil),
                    "checked": .int(Int64(outcome.checked)),
                ]
                if let broken = outcome.firstBroken { object["firstBroken"] = .int(Int64(clamping: broken)) }
                if outcome.firstBroken != nil { result["ok"] = false }
                hosts.append(.object(object))
            }
            result["hosts"] = .array(hosts)
            return MethodAnswer(JSONValue.object(result), facts: context.facts)
        }
        return .later(promise.futureResult)
    }
}
