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
    /// Refused requests of one peer uid left out of the trail in one second (SPEC section 7).
    var suppressed: Int64?
    /// This entry records a refusal that counts against its peer's rate: it carries no field the caller sent,
    /// so nobody can write into another workspace's trail, or grow it, without a valid, authorized request.
    private(set) var isRefusal = false

    /// The draft for a call, from its params. Only params that are valid identifiers are taken, so an entry
    /// holds at most a few hundred bytes of what a caller sent.
    init(_ context: CallContext) {
        socket = context.socket
        peerUid = context.peerUid
        peerPid = context.peerPid
        method = context.method
        workspaceId = Self.identifier(context.params["workspaceId"])
        provider = Self.identifier(context.params["provider"])
        connectionId = Self.identifier(context.params["connectionId"])
        actor = Self.identifier(context.params["actor"])
    }

    /// An entry credsd writes of its own accord (a summary of suppressed refusals).
    init(socket: SocketKind, peerUid: UInt32?, method: String, outcome: String, suppressed: Int64?) {
        self.socket = socket
        self.peerUid = peerUid
        self.method = method
        self.outcome = outcome
        self.suppressed = suppressed
    }

    private static func identifier(_ value: JSONValue?) -> String? {
        value?.stringValue.flatMap(Identifier.init(validating:))?.text
    }

    /// Fills what the answer adds: the connection a write touched, the source a resolve used.
    mutating func complete(with result: JSONValue) {
        let connection = result["connection"]
        workspaceId = workspaceId ?? connection?["workspaceId"]?.stringValue ?? result["workspaceId"]?.stringValue
        provider = provider ?? connection?["provider"]?.stringValue ?? result["provider"]?.stringValue
        connectionId = connection?["id"]?.stringValue ?? result["connectionId"]?.stringValue ?? connectionId
        source = result["source"]?.stringValue
    }

    /// Records how a call failed: a refusal before validation keeps method, outcome and peer only; any other
    /// failure adds what the engine established (the workspace owning a connection id, say).
    mutating func fail(with error: RPCError) {
        outcome = error.reason.rawValue
        if error.reason.refusesBeforeValidation || error.auditsAsRefusal {
            isRefusal = true
            workspaceId = nil
            provider = nil
            connectionId = nil
            actor = nil
        } else if let connectionId = error.data["connectionId"]?.stringValue {
            self.connectionId = connectionId
        }
        if let workspaceId = error.auditFacts["workspaceId"] { self.workspaceId = workspaceId.text }
        if let provider = error.auditFacts["provider"] { self.provider = provider.text }
    }
}
