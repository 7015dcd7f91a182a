import CredsProtocol
import NIOCore
import Synchronization

/// One token refresh in flight per connection, however many resolves wait for it;
/// and after a failure, a pause that grows before the next attempt.
final class TokenFlights: Sendable {
    private struct State {
        var flights: [FlightKey: EventLoopFuture<AccessToken>] = [:]
        var failures: [Identifier: (count: Int, retryAt: Timestamp)] = [:]
    }

    private let state = Mutex(State())
    /// First pause after a failure; it doubles up to `maxBackoff`.
    let firstBackoff: Duration
    let maxBackoff: Duration

    init(firstBackoff: Duration = .seconds(5), maxBackoff: Duration = .seconds(300)) {
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
    }

    /// Whether refreshing `connectionId` must wait because of recent failures.
    func isBackingOff(_ connectionId: Identifier, now: Timestamp) -> Bool {
        state.withLock { state in state.failures[connectionId].map { $0.retryAt > now } ?? false }
    }

    /// A flight is for one connection at one revision of its record: a caller who read the record after a
    /// write (a re-authorization to another installation) never joins a flight started for what it replaced.
    private struct FlightKey: Hashable {
        let connectionId: Identifier
        let revision: UInt64
    }

    /// Joins the refresh in flight for `connectionId` at `revision`, or starts one with `start` (called outside
    /// the lock).
    func refresh(
        _ id: Identifier,
        revision: UInt64,
        on eventLoop: any EventLoop,
        start: () -> EventLoopFuture<AccessToken>
    ) -> EventLoopFuture<AccessToken> {
        let key = FlightKey(connectionId: id, revision: revision)
        if let existing = state.withLock({ $0.flights[key] }) { return existing.hop(to: eventLoop) }
        let promise = eventLoop.makePromise(of: AccessToken.self)
        let existing = state.withLock { state -> EventLoopFuture<AccessToken>? in
            if let flight = state.flights[key] { return flight }
            state.flights[key] = promise.futureResult
            return nil
        }
        if let existing {
            // Another caller started a flight between the two looks: ours only mirrors it.
            promise.completeWith(existing)
            return existing.hop(to: eventLoop)
        }
        promise.futureResult.whenComplete { _ in
            self.state.withLock { _ = $0.flights.removeValue(forKey: key) }
        }
        promise.completeWith(start())
        return promise.futureResult
    }

    /// Notes a failed attempt: the next is allowed after a pause that doubles with each failure.
    func recordFailure(_ connectionId: Identifier, now: Timestamp) {
        state.withLock { state in
            let count = (state.failures[connectionId]?.count ?? 0) + 1
            let pause = min(maxBackoff, firstBackoff * (1 << min(count - 1, 20)))
            state.failures[connectionId] = (count, now + pause)
        }
    }

    func recordSuccess(_ connectionId: Identifier) {
        state.withLock { _ = $0.failures.removeValue(forKey: connectionId) }
    }
}
