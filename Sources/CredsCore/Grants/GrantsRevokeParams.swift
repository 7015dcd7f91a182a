import CredsProtocol

/// `grants.revoke {grant}`.
struct GrantsRevokeParams: MethodParams {
    let grant: String

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var grant: String?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            guard name == "grant" else { return false }
            grant = try reader.string(name)
            return true
        }
        self.grant = try ParamsReader.required(grant, "grant")
    }

    var facts: CallFacts { CallFacts() }
}
