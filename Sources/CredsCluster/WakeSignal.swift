import Synchronization

/// Wakes the replica loop: many wake-ups before it looks count as one.
final class WakeSignal: Sendable {
    private let continuation = Mutex<AsyncStream<Void>.Continuation?>(nil)

    /// A new stream of wake-ups (one per session), replacing the last one.
    func stream() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.continuation.withLock {
            $0?.finish()
            $0 = continuation
        }
        return stream
    }

    func wake() {
        _ = continuation.withLock { $0 }?.yield()
    }
}
