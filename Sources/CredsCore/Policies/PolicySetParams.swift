import CredsProtocol

/// `policy.set {workspaceId, provider, mode, fallbackOn?, actor}`.
struct PolicySetParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier
    let mode: RoutingMode
    let fallbackOn: [String]
    let actor: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var mode: String?
        var fallbackOn: [String]?
        var actor: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "mode": mode = try reader.string(name)
            case "fallbackOn": fallbackOn = try reader.strings(name)
            case "actor": actor = try reader.identifier(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = try ParamsReader.required(provider, "provider")
        guard let parsed = RoutingMode(rawValue: try ParamsReader.required(mode, "mode")) else {
            throw RPCError.invalidParams("mode must be auto, built_in or byo")
        }
        self.mode = parsed
        let classes = fallbackOn ?? []
        guard classes.allSatisfy(RoutingPolicy.classes.contains), classes.count <= RoutingPolicy.classes.count,
            Set(classes).count == classes.count
        else {
            throw RPCError.invalidParams(
                "fallbackOn must list outcome classes, each once: \(RoutingPolicy.classes.joined(separator: ", "))")
        }
        // Stored in the catalog's order, so the same set is the same policy.
        self.fallbackOn = RoutingPolicy.classes.filter(classes.contains)
        self.actor = try ParamsReader.required(actor, "actor")
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId, provider: provider, actor: actor) }
}
