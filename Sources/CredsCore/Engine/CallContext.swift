public import NIOCore

/// Which socket a request came in on.
public enum SocketKind: String, Sendable {
    case resolve, admin
}

/// Who is calling and where: handed to every method.
public struct CallContext: Sendable {
    public let socket: SocketKind
    public let eventLoop: any EventLoop
    /// Peer uid and pid from `SO_PEERCRED`, when known.
    public let peerUid: UInt32?
    public let peerPid: Int32?

    public init(socket: SocketKind, eventLoop: any EventLoop, peerUid: UInt32? = nil, peerPid: Int32? = nil) {
        self.socket = socket
        self.eventLoop = eventLoop
        self.peerUid = peerUid
        self.peerPid = peerPid
    }
}
