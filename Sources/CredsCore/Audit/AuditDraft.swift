import CredsProtocol

/// What an audit entry says before it has a place in the chain.
struct AuditDraft: Sendable {
    var socket: SocketKind
    var peerUid: UInt32?
    var peerPid: Int32?
    var method: String
    var facts: CallFacts
    var outcome: String = "ok"
    /// Refused requests of one peer uid left out of the trail in one second (SPEC section 7).
    var suppressed: Int64?
    /// This entry records a refusal that counts against its peer's rate: it carries no field the caller sent,
    /// so nobody can write into another workspace's trail, or grow it, without a valid, authorized request.
    private(set) var isRefusal = false

    /// The entry of a call that ended with `facts` (what the method established).
    init(_ context: CallContext, facts: CallFacts) {
        socket = context.socket
        peerUid = context.peerUid
        peerPid = context.peerPid
        method = context.method
        self.facts = facts
    }

    /// The entry of a call that failed with `error`: a refusal before validation keeps method, outcome and
    /// peer only; any other failure keeps what the params named and adds what the engine established (the
    /// workspace owning a connection id, say).
    init(_ context: CallContext, error: RPCError) {
        self.init(context, facts: context.facts)
        outcome = error.reason.rawValue
        if error.reason.refusesBeforeValidation || error.auditsAsRefusal {
            isRefusal = true
            facts = CallFacts()
        } else if let connectionId = error.data["connectionId"]?.stringValue {
            facts.connectionId = Identifier(stored: connectionId)
        }
        if let workspaceId = error.auditFacts["workspaceId"] { facts.workspaceId = workspaceId }
        if let provider = error.auditFacts["provider"] { facts.provider = provider }
    }

    /// An entry credsd writes of its own accord (a summary of suppressed refusals).
    init(socket: SocketKind, peerUid: UInt32?, method: String, outcome: String, suppressed: Int64?) {
        self.socket = socket
        self.peerUid = peerUid
        self.method = method
        self.facts = CallFacts()
        self.outcome = outcome
        self.suppressed = suppressed
    }
}
