public import CredsProtocol
public import NIOCore

/// Which socket a request came in on.
public enum SocketKind: String, Sendable, Codable {
    case resolve, admin
}

/// Who is calling, where, and with what: handed to every method, and the start of its audit entry.
public struct CallContext: Sendable {
    public let socket: SocketKind
    public let eventLoop: any EventLoop
    public let method: String
    /// Peer uid and pid from `SO_PEERCRED`, when known.
    public let peerUid: UInt32?
    public let peerPid: Int32?
    /// The request's params, from which the audit entry takes workspace, provider, connection and actor.
    public let params: [String: JSONValue]

    public init(
        socket: SocketKind,
        eventLoop: any EventLoop,
        method: String,
        params: [String: JSONValue] = [:],
        peerUid: UInt32? = nil,
        peerPid: Int32? = nil
    ) {
        self.socket = socket
        self.eventLoop = eventLoop
        self.method = method
        self.params = params
        self.peerUid = peerUid
        self.peerPid = peerPid
    }
}
