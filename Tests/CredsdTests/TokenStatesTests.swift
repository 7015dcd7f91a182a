@testable import CredsCore
import CredsProtocol
import NIOCore
import NIOPosix
import Testing

/// The per-connection token state machine: one flight, back-off that doubles, refusal per revision.
@Suite("token states")
struct TokenStatesTests {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
    let id = Identifier(stored: "conn_1")
    let start = Timestamp(microseconds: 1_767_225_600_000_000)

    func started(_ admission: TokenStates.Admission) -> EventLoopPromise<AccessToken>? {
        if case .start(let promise) = admission { return promise }
        return nil
    }

    /// Whether a new flight would start; one that does is ended at once (a promise must not be dropped).
    func wouldStart(_ states: TokenStates, revision: UInt64, now: Timestamp) -> Bool {
        guard let promise = started(states.admit(id, revision: revision, now: now, on: eventLoop)) else { return false }
        promise.fail(RPCError(.internalError, "test"))
        return true
    }

    @Test("one flight per revision: later callers join it; a newer revision starts its own")
    func singleFlight() throws {
        let states = TokenStates()
        let promise = try #require(started(states.admit(id, revision: 1, now: start, on: eventLoop)))
        guard case .join = states.admit(id, revision: 1, now: start, on: eventLoop) else {
            Issue.record("a second caller did not join the flight")
            return
        }
        let newer = try #require(started(states.admit(id, revision: 2, now: start, on: eventLoop)))
        // The old flight ending does not touch the newer revision's state.
        states.finish(id, revision: 1, .failed, now: start)
        guard case .join = states.admit(id, revision: 2, now: start, on: eventLoop) else {
            Issue.record("the newer flight was lost")
            return
        }
        states.finish(id, revision: 2, .issued, now: start)
        #expect(wouldStart(states, revision: 2, now: start))
        promise.fail(RPCError(.internalError, "test"))
        newer.fail(RPCError(.internalError, "test"))
    }

    @Test("failures back off 5 s, 10 s, 20 s ... up to 300 s; a success clears them")
    func backOff() throws {
        let states = TokenStates()
        var now = start
        for pause in [5, 10, 20, 40, 80, 160, 300, 300] {
            let promise = try #require(started(states.admit(id, revision: 1, now: now, on: eventLoop)))
            states.finish(id, revision: 1, .failed, now: now)
            promise.fail(RPCError(.upstreamUnavailable, "test"))
            guard case .backingOff = states.admit(id, revision: 1, now: now + .seconds(pause - 1), on: eventLoop)
            else {
                Issue.record("no back-off \(pause - 1) s after failure")
                return
            }
            now = now + .seconds(pause)
        }
        let promise = try #require(started(states.admit(id, revision: 1, now: now, on: eventLoop)))
        states.finish(id, revision: 1, .issued, now: now)
        promise.fail(RPCError(.internalError, "test"))
        let next = try #require(started(states.admit(id, revision: 1, now: now, on: eventLoop)))
        states.finish(id, revision: 1, .failed, now: now)
        next.fail(RPCError(.internalError, "test"))
        // Counting started again: the first pause is 5 s.
        #expect(wouldStart(states, revision: 1, now: now + .seconds(5)))
    }

    @Test("a refusal holds for its revision only; forgetting a connection clears everything")
    func refusal() throws {
        let states = TokenStates()
        let promise = try #require(started(states.admit(id, revision: 3, now: start, on: eventLoop)))
        states.finish(id, revision: 3, .refused("no"), now: start)
        promise.fail(RPCError(.reauthRequired, "test"))
        guard case .reauthRequired("no") = states.admit(id, revision: 3, now: start, on: eventLoop) else {
            Issue.record("a refused revision was asked again")
            return
        }
        let reauthorized = try #require(started(states.admit(id, revision: 4, now: start, on: eventLoop)))
        states.remove(id)
        #expect(wouldStart(states, revision: 4, now: start))
        reauthorized.fail(RPCError(.internalError, "test"))
    }

    @Test("a caller holding an older revision does not overwrite a newer one's state; a refusal can be cleared")
    func staleAndCleared() throws {
        let states = TokenStates()
        let promise = try #require(started(states.admit(id, revision: 5, now: start, on: eventLoop)))
        states.finish(id, revision: 5, .refused("no"), now: start)
        promise.fail(RPCError(.reauthRequired, "test"))
        guard case .stale = states.admit(id, revision: 4, now: start, on: eventLoop) else {
            Issue.record("an older revision was let in")
            return
        }
        states.clear(id, revision: 4)
        guard case .reauthRequired = states.admit(id, revision: 5, now: start, on: eventLoop) else {
            Issue.record("clearing another revision dropped the refusal")
            return
        }
        states.clear(id, revision: 5)
        #expect(wouldStart(states, revision: 5, now: start))
        // A flight ends once: the second finish finds nothing to end (and is not counted again).
        #expect(states.finish(id, revision: 5, .issued, now: start))
        #expect(!states.finish(id, revision: 5, .issued, now: start))
    }
}
