public import NIOCore
import Synchronization

/// Wakes event watchers when the outbox grows (SPEC 11 `watch`). One timer looks at the outbox's head every
/// 50 ms while anyone watches; each watcher is woken on its own event loop and reads what it has not sent. The
/// timer costs one LMDB read per tick whatever the number of watchers, and events reach watchers within 50 ms of
/// their commit.
public final class EventFeed: Sendable {
    static let tick = TimeAmount.milliseconds(50)

    private struct State {
        var watchers: [ObjectIdentifier: @Sendable () -> Void] = [:]
        var timer: RepeatedTask?
        var head: UInt64 = 0
    }

    /// The outbox's head, read from the store.
    private let readHead: @Sendable () -> UInt64?
    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    init(eventLoop: any EventLoop, head: @escaping @Sendable () -> UInt64?) {
        self.eventLoop = eventLoop
        readHead = head
    }

    /// Adds a watcher; `wake` is called (on the feed's loop: hop to your own) whenever the head moves.
    public func add(_ id: ObjectIdentifier, wake: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.watchers[id] = wake
            guard state.timer == nil else { return }
            state.head = readHead() ?? 0
            state.timer = eventLoop.scheduleRepeatedTask(initialDelay: Self.tick, delay: Self.tick) { [weak self] _ in
                self?.poll()
            }
        }
    }

    public func remove(_ id: ObjectIdentifier) {
        state.withLock { state in
            state.watchers.removeValue(forKey: id)
            if state.watchers.isEmpty {
                state.timer?.cancel()
                state.timer = nil
            }
        }
    }

    /// Stops the timer (shutdown).
    public func stop() {
        state.withLock { state in
            state.timer?.cancel()
            state.timer = nil
            state.watchers.removeAll()
        }
    }

    private func poll() {
        guard let head = readHead() else { return }
        let wakes: [@Sendable () -> Void] = state.withLock { state in
            guard head != state.head else { return [] }
            state.head = head
            return Array(state.watchers.values)
        }
        for wake in wakes { wake() }
    }
}
