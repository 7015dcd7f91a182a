import CredsProtocol

/// A call on one connection by an actor: `connections.get`, `connections.revoke`, `connections.delete`.
struct ConnectionParams: MethodParams {
    let connectionId: Identifier
    let actor: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var connectionId: Identifier?
        var actor: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "connectionId": connectionId = try reader.identifier(name)
            case "actor": actor = try reader.identifier(name)
            default: return false
            }
            return true
        }
        self.connectionId = try ParamsReader.required(connectionId, "connectionId")
        self.actor = try ParamsReader.required(actor, "actor")
    }

    var facts: CallFacts { CallFacts(connectionId: connectionId, actor: actor) }
}
