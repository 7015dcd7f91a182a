public import CredsProtocol
public import NIOCore

/// Which socket a request came in on.
public enum SocketKind: String, Sendable, Codable {
    case resolve, admin
}

/// Who is calling, where, and what the call's params named: handed to every method, and the start of its
/// audit entry.
public struct CallContext: Sendable {
    public let socket: SocketKind
    public let eventLoop: any EventLoop
    public let method: String
    /// Peer uid and pid from `SO_PEERCRED`, when known.
    public let peerUid: UInt32?
    public let peerPid: Int32?
    /// What the params named (workspace, provider, connection, actor), once they were read; the audit entry of
    /// a call that fails takes them from here.
    public var facts = CallFacts()

    public init(
        socket: SocketKind,
        eventLoop: any EventLoop,
        method: String,
        peerUid: UInt32? = nil,
        peerPid: Int32? = nil
    ) {
        self.socket = socket
        self.eventLoop = eventLoop
        self.method = method
        self.peerUid = peerUid
        self.peerPid = peerPid
    }
}
