import Synchronization

/// Audit entries of calls that do not wait for them (resolves, failed writes), gathered so that one writer
/// job appends all that have arrived instead of one job, and one wake-up, per call.
final class AuditQueue: Sendable {
    private struct State {
        var drafts: [AuditDraft] = []
        var flushScheduled = false
    }

    private let state = Mutex(State())

    /// Queues a draft; true when the caller must schedule a flush (none is pending).
    func enqueue(_ draft: AuditDraft) -> Bool {
        state.withLock { state in
            state.drafts.append(draft)
            if state.flushScheduled { return false }
            state.flushScheduled = true
            return true
        }
    }

    /// Takes every queued draft; the next `enqueue` schedules a new flush.
    func drain() -> [AuditDraft] {
        state.withLock { state in
            state.flushScheduled = false
            defer { state.drafts.removeAll(keepingCapacity: true) }
            return state.drafts
        }
    }
}
