import Synchronization

/// Open connections on one socket, against `maxConnections`.
final class ConnectionCounter: Sendable {
    private let open = Atomic<Int>(0)

    /// Takes a place; false (and nothing taken) when `limit` connections are already open.
    func tryAcquire(limit: Int) -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}
