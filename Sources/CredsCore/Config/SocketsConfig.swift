/// `[sockets]`: where the two sockets live, their modes and who may connect.
public struct SocketsConfig: Sendable, Equatable {
    public var resolve = "/run/credsd/resolve.sock"
    public var admin = "/run/credsd/admin.sock"
    public var resolveMode: UInt32 = 0o660
    public var adminMode: UInt32 = 0o600
    /// Empty: any peer that can open the socket.
    public var resolveAllowUids: [UInt32] = []
    /// Empty: only root and the daemon's own uid.
    public var adminAllowUids: [UInt32] = []

    public init() {}
}
