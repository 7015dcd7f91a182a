public import CredsProtocol
import CredsStore
import Synchronization
public import NIOCore

extension CredsEngine {
    /// Records how a call ended in its own transaction, without making anyone wait for it: resolves (success or
    /// failure), admin writes that failed before committing, and any request refused before its params were
    /// valid (those paced per peer uid by `RefusalThrottle`). Returns a future the answer must wait for when the
    /// audit backlog is over its limit (see `AuditQueue`), else nil.
    public func recordOutcome(_ context: CallContext, _ outcome: Result<CallFacts, RPCError>) -> EventLoopFuture<Void>?
    {
        let draft: AuditDraft
        switch outcome {
        case .success(let facts): draft = AuditDraft(context, facts: facts)
        case .failure(let error): draft = AuditDraft(context, error: error)
        }
        if draft.isRefusal {
            let second = Timestamp.now() / 1_000_000
            let admission = refusalThrottle.admit(peerUid: draft.peerUid, socket: draft.socket, second: second)
            for summary in admission.summaries { _ = enqueueAudit(Self.summaryDraft(summary), on: context.eventLoop) }
            if let closeAt = admission.closeAt {
                let peerUid = draft.peerUid
                let eventLoop = context.eventLoop
                let wait = TimeAmount.microseconds(max(0, (closeAt + 1) * 1_000_000 - Timestamp.now()))
                eventLoop.scheduleTask(in: wait) {
                    if let summary = self.refusalThrottle.close(peerUid: peerUid, second: closeAt) {
                        _ = self.enqueueAudit(Self.summaryDraft(summary), on: eventLoop)
                    }
                }
            }
            guard admission.record else { return nil }
        }
        return enqueueAudit(draft, on: context.eventLoop)
    }

    /// The one entry that stands for a second's refusals the throttle left out: method `*`, outcome
    /// `suppressed`, the peer uid and the count.
    private static func summaryDraft(_ summary: RefusalThrottle.Summary) -> AuditDraft {
        AuditDraft(
            socket: summary.socket, peerUid: summary.peerUid, method: "*", outcome: "suppressed",
            suppressed: summary.suppressed)
    }

    /// Appends the `suppressed: N` entries of refusal windows still open. Called at shutdown, before the last
    /// audit drain: the timers that write them at the end of each second no longer run then.
    public func flushRefusalSummaries() {
        for summary in refusalThrottle.closeAll() { _ = enqueueAudit(Self.summaryDraft(summary), on: nil) }
    }

    /// Queues an entry for the next audit flush; nil, or a future the answer waits for when the backlog is full.
    private func enqueueAudit(_ draft: AuditDraft, on eventLoop: (any EventLoop)?) -> EventLoopFuture<Void>? {
        let admission = auditQueue.enqueue(draft, on: eventLoop)
        if admission.scheduleFlush { scheduleAuditFlush() }
        return admission.wait
    }

    /// One writer job appending the next queued entries; it schedules the next one while entries remain
    /// (as a follow-up, so a backlog still drains completely when the daemon stops).
    private func scheduleAuditFlush(followUp: Bool = false) {
        let auditLog = database.auditLog
        let queue = auditQueue
        let logger = self.logger
        // Drained once: if the writer re-runs the job (after growing a full map), the same entries go in.
        let taken = Mutex<(drafts: [AuditDraft], more: Bool)?>(nil)
        database.writer.submit(
            followUp: followUp,
            { txn in
                let drafts = taken.withLock { taken in
                    if taken == nil { taken = queue.drain() }
                    return taken?.drafts ?? []
                }
                try auditLog.append(txn, drafts)
            }
        ) { result in
            let drained = taken.withLock { $0 }
            if case .failure(let error) = result {
                logger.error(
                    "audit append failed; entries lost",
                    metadata: ["store.error": "\(error)", "audit.lost": "\(drained?.drafts.count ?? 0)"]
                )
            }
            queue.takeWaiters().forEach { $0.succeed() }
            if drained?.more == true { self.scheduleAuditFlush(followUp: true) }
        }
    }

    /// `audit.list {since?, limit?, workspaceId?}`: entries after sequence number `since`, oldest first.
    public func auditList(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        let params = try Params(raw, allowed: ["since", "limit", "workspaceId"])
        let since = try params.optionalInt("since") ?? 0
        let limit = try params.optionalInt("limit") ?? 100
        let workspaceId = try params.optionalIdentifier("workspaceId")
        guard since >= 0 else { throw RPCError.invalidParams("since must be a sequence number, 0 or more") }
        guard (1...1000).contains(limit) else { throw RPCError.invalidParams("limit must be from 1 to 1000") }
        let entries = try read { txn in
            try database.auditLog.list(txn, since: UInt64(since), limit: Int(limit), workspaceId: workspaceId)
        }
        var result: [String: JSONValue] = ["entries": .array(entries.map(\.json))]
        result["nextSince"] = entries.last.map { .int(Int64($0.seq)) } ?? .int(since)
        return .object(result)
    }

    /// `audit.verify`: walks the kept chain and names the first entry that was changed or removed.
    public func auditVerify(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        _ = try Params(raw, allowed: [])
        let outcome = try read { txn in try database.auditLog.verify(txn) }
        var result: [String: JSONValue] = [
            "ok": .bool(outcome.firstBroken == nil), "checked": .int(Int64(outcome.checked)),
        ]
        if let broken = outcome.firstBroken { result["firstBroken"] = .int(Int64(broken)) }
        return .object(result)
    }
}
