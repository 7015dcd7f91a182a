import NIOCore
import Synchronization

/// Audit entries of calls that do not wait for their commit (resolves, failed writes), gathered so that one
/// writer job appends many instead of one job, and one wake-up, per call.
///
/// Bounded two ways. A job appends at most `maxPerFlush` entries, so an admin write queued behind it waits for
/// one modest commit, not for everything resolves produced meanwhile. And past `backlogLimit` queued entries,
/// answers wait for the next flush to commit: resolves then go at the pace the store can record them, instead
/// of the queue (and the daemon's memory) growing for as long as the load lasts.
final class AuditQueue: Sendable {
    static let maxPerFlush = 4_096
    static let backlogLimit = 16_384
    static let idleCapacity = 1_024

    private struct State {
        var drafts = CircularBuffer<AuditDraft>(initialCapacity: AuditQueue.idleCapacity)
        var flushScheduled = false
        var waiters: [EventLoopPromise<Void>] = []
    }

    private let state = Mutex(State())

    /// What the caller of `enqueue` must do.
    struct Admission {
        /// No flush is pending: the caller schedules one.
        let scheduleFlush: Bool
        /// The backlog is over its limit: answer once this completes.
        let wait: EventLoopFuture<Void>?
    }

    /// Queues `draft`. With no `eventLoop` (credsd's own entries at shutdown), nobody waits for the flush.
    func enqueue(_ draft: AuditDraft, on eventLoop: (any EventLoop)?) -> Admission {
        state.withLock { state in
            state.drafts.append(draft)
            var wait: EventLoopFuture<Void>?
            if state.drafts.count > Self.backlogLimit, let eventLoop {
                let promise = eventLoop.makePromise(of: Void.self)
                state.waiters.append(promise)
                wait = promise.futureResult
            }
            let schedule = !state.flushScheduled
            state.flushScheduled = true
            return Admission(scheduleFlush: schedule, wait: wait)
        }
    }

    /// Takes up to `maxPerFlush` drafts. When none are left, the next `enqueue` schedules a new flush;
    /// otherwise `more` tells the flusher to schedule the next job itself.
    func drain() -> (drafts: [AuditDraft], more: Bool) {
        state.withLock { state in
            let count = min(state.drafts.count, Self.maxPerFlush)
            var taken: [AuditDraft] = []
            taken.reserveCapacity(count)
            for _ in 0..<count { taken.append(state.drafts.removeFirst()) }
            let more = !state.drafts.isEmpty
            if !more {
                state.flushScheduled = false
                // A burst left a large buffer behind: give it back rather than hold it for the next burst.
                if state.drafts.capacity > 4 * Self.idleCapacity {
                    state.drafts = CircularBuffer(initialCapacity: Self.idleCapacity)
                }
            }
            return (taken, more)
        }
    }

    /// Answers held back by the backlog limit, released after a flush finished (committed or not).
    func takeWaiters() -> [EventLoopPromise<Void>] {
        state.withLock { state in
            defer { state.waiters.removeAll() }
            return state.waiters
        }
    }
}
