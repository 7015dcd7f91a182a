import Synchronization

/// When a loop or a long read last made progress: for the replica session's watchdog, and for `withDeadline`'s
/// stall limit (a read that keeps streaming rows is let run; one that stopped is given up).
final class PassClock: Sendable {
    private let last = Mutex(ContinuousClock.now)

    func mark() { last.withLock { $0 = .now } }

    var sinceLast: Duration { ContinuousClock.now - last.withLock { $0 } }
}
