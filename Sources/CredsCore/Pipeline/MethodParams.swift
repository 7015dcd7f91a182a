public import CredsProtocol

/// A method's params as a type: read from the request's bytes by `ParamsReader`, unknown names refused.
public protocol MethodParams: Sendable {
    /// Reads the params object at `range` of `bytes` (nil: no params were sent).
    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError)
    /// What the params name, for the audit entry of a call that fails.
    var facts: CallFacts { get }
}

/// The params of a method not yet given a type of its own: every member, as JSON, checked by the method.
struct UntypedParams: MethodParams {
    let values: [String: JSONValue]

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var values: [String: JSONValue] = [:]
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            values[name] = try reader.value()
            return true
        }
        self.values = values
    }

    var facts: CallFacts { CallFacts(params: values) }
}
