import CredsProtocol

/// `usage.get {workspaceId, provider?, from?, to?, actor}`: UTC days written `YYYY-MM-DD`, both included; `to`
/// defaults to today and `from` to 29 days before `to`; at most the 400 days kept.
struct UsageGetParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier?
    let from: UTCDay
    let to: UTCDay
    let actor: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var fromText: String?
        var toText: String?
        var actor: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "from": fromText = try reader.string(name)
            case "to": toText = try reader.string(name)
            case "actor": actor = try reader.identifier(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = provider
        func day(_ text: String?, _ name: String) throws(RPCError) -> UTCDay? {
            guard let text else { return nil }
            guard let day = UTCDay(text), day.number >= 0 else {
                throw RPCError.invalidParams("\(name) must be a date from 1970-01-01: YYYY-MM-DD")
            }
            return day
        }
        let to = try day(toText, "to") ?? UTCDay(.now())
        let from = try day(fromText, "from") ?? to.adding(days: -29)
        guard from <= to else { throw RPCError.invalidParams("from must not be after to") }
        guard to.number - from.number < CredsDatabase.usageDaysKept else {
            throw RPCError.invalidParams("from and to may span at most \(CredsDatabase.usageDaysKept) days")
        }
        self.from = from
        self.to = to
        self.actor = try ParamsReader.required(actor, "actor")
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId, provider: provider, actor: actor) }
}
