public import CredsProtocol

/// What asking for a connection's refresh lease in the cluster gave (SPEC 10: one token refresh per connection
/// across hosts).
public enum RefreshLease: Sendable, Equatable {
    /// This host refreshes; its write-back names the hold, and is discarded if the lease was taken over meanwhile.
    case won(LeaseHold)
    /// Another host holds the lease for about this long: wait for its change.
    case heldElsewhere(Duration)
    /// The connection in PostgreSQL is newer than this replica's: another host refreshed already.
    case outdated
}

/// A refresh lease this host holds: the fencing number it took it with.
public struct LeaseHold: Sendable, Equatable {
    public let connectionId: Identifier
    public let fencing: Int64

    public init(connectionId: Identifier, fencing: Int64) {
        self.connectionId = connectionId
        self.fencing = fencing
    }
}

/// A write-back whose refresh lease was taken over by another host (it waited past the lease): discarded.
public struct LeaseLost: Error, Sendable {
    public init() {}
}
