import Synchronization

/// The database did not answer in time.
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public let what: String
    public var description: String { "\(what): no answer in time" }
}

/// Runs `body` in a task of its own and returns what it returns, or throws `DeadlineExceeded` once `timeout`
/// has passed without waiting for `body` to notice: a frozen database (SIGSTOP) answers neither queries nor
/// cancellation, and a caller must not wait on it. The body is cancelled and left to end on its own.
public func withDeadline<Value: Sendable>(
    _ timeout: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    let race = DeadlineRace<Value>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, timeout: timeout, what: what, body)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The body, the timer and cancellation racing to answer one continuation: the first wins.
private final class DeadlineRace<Value: Sendable>: Sendable {
    private let waiter = Mutex<CheckedContinuation<Value, any Error>?>(nil)
    private let work = Mutex<Task<Void, Never>?>(nil)

    func start(
        _ continuation: CheckedContinuation<Value, any Error>,
        timeout: Duration,
        what: String,
        _ body: @escaping @Sendable () async throws -> Value
    ) {
        waiter.withLock { $0 = continuation }
        let task = Task {
            do { self.finish(.success(try await body())) } catch { self.finish(.failure(error)) }
        }
        work.withLock { $0 = task }
        Task {
            try? await Task.sleep(for: timeout)
            self.finish(.failure(DeadlineExceeded(what: what)))
        }
    }

    func finish(_ result: Result<Value, any Error>) {
        guard let continuation = waiter.withLock({ $0.take() }) else { return }
        if case .failure = result { work.withLock { $0 }?.cancel() }
        continuation.resume(with: result)
    }
}
