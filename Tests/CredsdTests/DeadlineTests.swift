import CredsCluster
import Dispatch
import Testing

/// `withDeadline`: the first of the body, the timer and cancellation answers, and nothing waits on a body that
/// never ends (a query on a frozen or closed PostgreSQL connection). No time is asserted (the suite's other tests
/// can hold the cooperative pool for a minute): what answered tells, since the body never does.
@Suite("deadlines on cluster reads")
struct DeadlineTests {
    @Test("a body that never ends is given up at the deadline")
    func givenUp() async throws {
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(200), "a read that never ends") {
                try await neverEnds()
            }
        }
    }

    @Test("a body that answers first wins")
    func answered() async throws {
        #expect(try await withDeadline(.seconds(30), "a quick read") { 42 } == 42)
    }

    @Test("a task cancelled before it calls withDeadline gets CancellationError, not the deadline")
    func cancelledBefore() async throws {
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await withDeadline(.seconds(60), "a read in a cancelled task") { try await neverEnds() }
        }
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("a task cancelled while it waits gets CancellationError, not the deadline")
    func cancelledWhileWaiting() async throws {
        let task = Task {
            try await withDeadline(.seconds(60), "a read cancelled while waiting") { try await neverEnds() }
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}

/// A body that does not end by itself and ignores cancellation (as a statement PostgresNIO dropped): it waits
/// two minutes on a timer that no cancellation reaches.
private func neverEnds() async throws -> Int {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { continuation.resume() }
    }
    return 0
}
