import Synchronization

/// The database did not answer in time.
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public let what: String
    public var description: String { "\(what): no answer in time" }
}

/// Runs `body` in a task of its own and returns what it returns, or throws `DeadlineExceeded` once `timeout`
/// has passed without waiting for `body` to notice: a frozen database (SIGSTOP) answers neither queries nor
/// cancellation, a query in flight on a connection closed under it was seen to never end, and a caller must not
/// wait on either. The body is cancelled and left to end on its own; what it returns late is dropped.
public func withDeadline<Value: Sendable>(
    _ timeout: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    try await race(.after(timeout), what, body)
}

/// `withDeadline` for a long read that marks `progress` as it goes: it is given up only once `timeout` passed
/// since its last mark (or since the call), however long it runs while it moves.
func withDeadline<Value: Sendable>(
    _ timeout: Duration,
    stalled progress: PassClock,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    progress.mark()
    return try await race(.stalled(timeout, progress), what, body)
}

private func race<Value: Sendable>(
    _ limit: DeadlineRace<Value>.Limit,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    let race = DeadlineRace<Value>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, limit: limit, what: what, body)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The body, the timer and cancellation racing to answer one continuation: the first wins, and cancels the
/// others. Everything is under one lock, so a cancellation that comes before `start` (or while it runs) is not lost.
private final class DeadlineRace<Value: Sendable>: Sendable {
    enum Limit: Sendable {
        /// A fixed time from the start.
        case after(Duration)
        /// A time without progress.
        case stalled(Duration, PassClock)
    }

    private struct State {
        var waiter: CheckedContinuation<Value, any Error>?
        var outcome: Result<Value, any Error>?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<Value, any Error>,
        limit: Limit,
        what: String,
        _ body: @escaping @Sendable () async throws -> Value
    ) {
        let early = state.withLock { state -> Result<Value, any Error>? in
            if let outcome = state.outcome { return outcome }
            state.waiter = continuation
            return nil
        }
        if let early {
            continuation.resume(with: early)
            return
        }
        let work = Task {
            do { self.finish(.success(try await body())) } catch { self.finish(.failure(error)) }
        }
        let timer = Task {
            switch limit {
            case .after(let timeout):
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
            case .stalled(let timeout, let progress):
                while progress.sinceLast <= timeout {
                    guard (try? await Task.sleep(for: min(timeout, .milliseconds(100)))) != nil else { return }
                }
            }
            self.finish(.failure(DeadlineExceeded(what: what)))
        }
        let over = state.withLock { state in
            state.tasks = [work, timer]
            return state.outcome != nil
        }
        if over {
            work.cancel()
            timer.cancel()
        }
    }

    /// Answers the caller once; later calls do nothing. A cancellation before `start` is kept for it.
    func finish(_ result: Result<Value, any Error>) {
        let (waiter, tasks) = state.withLock { state -> (CheckedContinuation<Value, any Error>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = result
            defer { state.waiter = nil }
            return (state.waiter, state.tasks)
        }
        for task in tasks { task.cancel() }
        waiter?.resume(with: result)
    }
}
