import Synchronization

/// Requests being worked on, so that shutdown can wait for them.
final class InFlightTracker: Sendable {
    private let count = Atomic<Int>(0)

    func begin() { count.wrappingAdd(1, ordering: .relaxed) }
    func end() { count.wrappingSubtract(1, ordering: .relaxed) }
    var current: Int { count.load(ordering: .relaxed) }
}
