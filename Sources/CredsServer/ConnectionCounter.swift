import Atomics

/// Open connections on one socket, against `maxConnections`.
final class ConnectionCounter: Sendable {
    let limit: Int
    private let open = ManagedAtomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a place; false (and nothing taken) when the socket is full.
    func tryAcquire() -> Bool {
        let now = open.wrappingIncrementThenLoad(ordering: .relaxed)
        if now > limit {
            open.wrappingDecrement(ordering: .relaxed)
            return false
        }
        return true
    }

    func release() {
        open.wrappingDecrement(ordering: .relaxed)
    }

    var current: Int { open.load(ordering: .relaxed) }
}
