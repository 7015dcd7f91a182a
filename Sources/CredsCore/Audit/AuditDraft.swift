import CredsProtocol

/// What an audit entry says before it has a place in the chain.
struct AuditDraft: Sendable {
    var socket: SocketKind
    var peerUid: UInt32?
    var peerPid: Int32?
    var method: String
    var workspaceId: String?
    var provider: String?
    var connectionId: String?
    var actor: String?
    var outcome: String = "ok"
    var source: String?

    /// The draft for a call, from its params.
    init(_ context: CallContext) {
        socket = context.socket
        peerUid = context.peerUid
        peerPid = context.peerPid
        method = context.method
        workspaceId = context.params["workspaceId"]?.stringValue
        provider = context.params["provider"]?.stringValue
        connectionId = context.params["connectionId"]?.stringValue
        actor = context.params["actor"]?.stringValue
    }

    /// Fills what the answer adds: the connection a write touched, the source a resolve used.
    mutating func complete(with result: JSONValue) {
        let connection = result["connection"]
        workspaceId = workspaceId ?? connection?["workspaceId"]?.stringValue ?? result["workspaceId"]?.stringValue
        provider = provider ?? connection?["provider"]?.stringValue ?? result["provider"]?.stringValue
        connectionId = connection?["id"]?.stringValue ?? result["connectionId"]?.stringValue ?? connectionId
        source = result["source"]?.stringValue
    }
}
