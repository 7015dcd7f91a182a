import Atomics

/// Open connections on one socket, against `maxConnections`.
final class ConnectionCounter: Sendable {
    private let open = ManagedAtomic<Int>(0)

    /// Takes a place; false (and nothing taken) when `limit` connections are already open.
    func tryAcquire(limit: Int) -> Bool {
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

}
