import Atomics

/// Requests being worked on, so that shutdown can wait for them.
final class InFlightTracker: Sendable {
    private let count = ManagedAtomic<Int>(0)

    func begin() { count.wrappingIncrement(ordering: .relaxed) }
    func end() { count.wrappingDecrement(ordering: .relaxed) }
    var current: Int { count.load(ordering: .relaxed) }
}
