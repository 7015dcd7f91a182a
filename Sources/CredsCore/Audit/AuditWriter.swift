import CredsProtocol
import CredsStore
import Logging
import NIOCore
import Synchronization

/// Carries audit entries that nobody waits for (resolves, failed admin calls, refusals) to the store's writer in
/// batches: the bounded `AuditQueue`, and when to hand the writer a job.
///
/// Resolve-socket entries gather for `gatherTime` before their job is queued: nobody waits for those commits,
/// and each commit costs two `fdatasync`s whatever it holds. Every other entry, and every admin write
/// (`EngineCore.write(context:)` calls `flushGathered` before queueing its own job), sends what has gathered at
/// once, so the trail keeps the order in which a client's calls were answered.
final class AuditWriter: Sendable {
    /// At 64 connections, gathering for 2 ms took a commit from 53-84 resolve entries to 374-472, and the daemon's
    /// CPU per resolve from 17.6-22.1 µs to 14.5-19.9 µs (three back-to-back pairs, `make bench`'s load).
    static let gatherTime = TimeAmount.milliseconds(2)

    /// What one job took: entries, whether more wait, usage counts, and the prune slice.
    private struct Taken {
        var drafts: [AuditDraft]
        var more: Bool
        var usage: UsageLedger.Batch
        var prune: (keepFrom: UTCDay, from: [UInt8])?
    }

    private let database: CredsDatabase
    private let logger: Logger
    /// Usage counted since the last job: written in the same transaction as the entries (SPEC 12).
    private let usage: UsageLedger
    let queue = AuditQueue()
    /// A gathering timer is pending: the job for the queued entries is not queued yet.
    private let gathering = Atomic<Bool>(false)

    init(database: CredsDatabase, usage: UsageLedger, logger: Logger) {
        self.database = database
        self.usage = usage
        self.logger = logger
    }

    /// Queues an entry; nil, or a future the answer waits for when the backlog is full. With no `eventLoop`
    /// (credsd's own entries at shutdown), nobody waits.
    func enqueue(_ draft: AuditDraft, on eventLoop: (any EventLoop)?) -> EventLoopFuture<Void>? {
        let admission = queue.enqueue(draft, on: eventLoop)
        if let eventLoop, admission.wait == nil, draft.socket == .resolve {
            if admission.scheduleFlush {
                gathering.store(true, ordering: .releasing)
                eventLoop.scheduleTask(in: Self.gatherTime) { self.flushGathered() }
            }
        } else if admission.scheduleFlush || gathering.exchange(false, ordering: .acquiringAndReleasing) {
            scheduleFlush()
        }
        return admission.wait
    }

    /// Queues the writer job for entries still gathering, if any.
    func flushGathered() {
        if gathering.exchange(false, ordering: .acquiringAndReleasing) { scheduleFlush() }
    }

    /// Queues a job for counted usage with no entry to carry it (calls made in process, the last counts at
    /// shutdown).
    func flushUsage() {
        if usage.hasWaiting { scheduleFlush() }
    }

    /// One writer job appending the next queued entries; it schedules the next one while entries remain
    /// (as a follow-up, so a backlog still drains completely when the daemon stops).
    private func scheduleFlush(followUp: Bool = false) {
        let auditLog = database.auditLog
        let queue = self.queue
        let logger = self.logger
        let usage = self.usage
        let database = self.database
        // Taken once: if the writer runs the job again (after growing a full map), the same entries, counts and
        // prune slice go in. The prune's cursor moves on only once the slice is committed.
        let taken = Mutex<Taken?>(nil)
        database.writer.submit(
            followUp: followUp,
            { txn -> [UInt8]?? in
                let job = taken.withLock { taken in
                    if taken == nil {
                        let drained = queue.drain()
                        taken = Taken(
                            drafts: drained.drafts, more: drained.more, usage: usage.drain(), prune: usage.pruneStep())
                    }
                    return taken!
                }
                try auditLog.append(txn, job.drafts)
                try database.merge(txn, job.usage)
                guard let step = job.prune else { return .none }
                return .some(try database.pruneUsage(txn, before: step.keepFrom, from: step.from))
            }
        ) { result in
            let drained = taken.withLock { $0 }
            if case .success(.some(let next)) = result { usage.pruned(through: next) }
            if case .success = result, let batch = drained?.usage { usage.committed(batch) }
            if case .failure = result, let batch = drained?.usage { usage.restore(batch) }
            if case .failure(let error) = result, drained?.drafts.isEmpty == false || drained?.usage.isEmpty == false {
                logger.error(
                    "audit append failed; entries lost (usage counts wait for the next batch)",
                    metadata: [
                        "store.error": "\(error)", "audit.lost": "\(drained?.drafts.count ?? 0)",
                    ]
                )
            }
            queue.takeWaiters().forEach { $0.succeed() }
            if drained?.more == true { self.scheduleFlush(followUp: true) }
        }
    }
}
