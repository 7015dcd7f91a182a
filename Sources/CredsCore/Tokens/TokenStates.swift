import CredsProtocol
import NIOCore
import Synchronization

/// The token state of every connection that is not simply fresh (`TokenState`), behind one lock.
final class TokenStates: Sendable {
    /// First pause after a failure; it doubles with each failure up to `maxBackoff`.
    let firstBackoff: Duration
    let maxBackoff: Duration
    private let states = Mutex<[Identifier: TokenState]>([:])

    init(firstBackoff: Duration = .seconds(5), maxBackoff: Duration = .seconds(300)) {
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
    }

    /// What a caller that needs a new token for `id` at `revision` does.
    enum Admission {
        /// Wait for the flight already under way.
        case join(EventLoopFuture<AccessToken>)
        /// Start the flight: complete `promise` with it (the state says `refreshing` until `finish`).
        case start(EventLoopPromise<AccessToken>)
        /// Failures are being backed off: no new attempt yet.
        case backingOff
        /// The provider refused this revision.
        case reauthRequired(String)
        /// The caller read the record before a newer revision got a state: it must read again.
        case stale
    }

    /// Moves `id` to `refreshing` unless a flight, a back-off or a refusal for `revision` stands in the way.
    func admit(_ id: Identifier, revision: UInt64, now: Timestamp, on eventLoop: any EventLoop) -> Admission {
        states.withLock { states in
            var failures = 0
            if let state = states[id], state.revision > revision { return .stale }
            if let state = states[id], state.revision == revision {
                switch state {
                case .refreshing(_, let flight, _): return .join(flight.hop(to: eventLoop))
                case .reauthRequired(_, let message): return .reauthRequired(message)
                case .backingOff(_, let until, let count):
                    if until > now { return .backingOff }
                    failures = count
                }
            }
            // No state, an older revision's (a newer authorization starts afresh), or a back-off that ended.
            let promise = eventLoop.makePromise(of: AccessToken.self)
            states[id] = .refreshing(revision: revision, flight: promise.futureResult, failures: failures)
            return .start(promise)
        }
    }

    /// Ends the flight of `id` at `revision` (a later revision's state is left alone); false when there was no
    /// such flight (it had already ended).
    @discardableResult
    func finish(_ id: Identifier, revision: UInt64, _ outcome: Outcome, now: Timestamp) -> Bool {
        states.withLock { states in
            guard case .refreshing(revision, _, let failures)? = states[id] else { return false }
            switch outcome {
            case .issued: states[id] = nil
            case .refused(let message): states[id] = .reauthRequired(revision: revision, message: message)
            case .failed:
                let count = failures + 1
                let pause = min(maxBackoff, firstBackoff * (1 << min(count - 1, 20)))
                states[id] = .backingOff(revision: revision, until: now + pause, failures: count)
            }
            return true
        }
    }

    /// How a flight ended.
    enum Outcome {
        case issued
        case refused(String)
        case failed
    }

    /// Drops the state of `id` if it is still the one for `revision` (a refusal whose `error` status could not be
    /// written, so that the next call tries again).
    func clear(_ id: Identifier, revision: UInt64) {
        states.withLock { states in
            if states[id]?.revision == revision { states[id] = nil }
        }
    }

    /// Forgets `id` (revoked or deleted).
    func remove(_ id: Identifier) {
        states.withLock { _ = $0.removeValue(forKey: id) }
    }
}
