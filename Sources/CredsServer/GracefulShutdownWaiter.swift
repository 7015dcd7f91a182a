import ServiceLifecycle
import Synchronization

/// Waits for graceful shutdown or cancellation, resuming the waiting task directly.
///
/// ServiceLifecycle's `gracefulShutdown()` resumes its waiter through an unstructured `Task`, which runs on the
/// global executor whatever executor the waiting task prefers. A daemon inside a test process whose cooperative
/// threads are all blocked (synchronous tests waiting for it) would then never notice its shutdown; resumed here,
/// the task continues on its own executor.
enum GracefulShutdownWaiter {
    /// Returns once graceful shutdown is triggered or the task is cancelled (at once if either happened already).
    static func wait() async {
        let signal = Signal()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { signal.wait(with: $0) }
            } onGracefulShutdown: {
                signal.fire()
            }
        } onCancel: {
            signal.fire()
        }
    }

    /// A one-shot signal: the continuation is resumed once, whichever of `wait` and `fire` comes first.
    private final class Signal: Sendable {
        private enum State {
            case idle
            case waiting(CheckedContinuation<Void, Never>)
            case fired
        }

        private let state = Mutex(State.idle)

        func wait(with continuation: CheckedContinuation<Void, Never>) {
            let fired = state.withLock { state in
                if case .fired = state { return true }
                state = .waiting(continuation)
                return false
            }
            if fired { continuation.resume() }
        }

        func fire() {
            let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state = .fired }
                if case .waiting(let continuation) = state { return continuation }
                return nil
            }
            waiting?.resume()
        }
    }
}
