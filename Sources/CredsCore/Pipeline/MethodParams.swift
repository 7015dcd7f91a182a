public import CredsProtocol

/// A method's params as a type: read from the request's bytes by `ParamsReader`, unknown names refused.
public protocol MethodParams: Sendable {
    /// Reads the params object at `range` of `bytes` (nil: no params were sent).
    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError)
    /// What the params name, for the audit entry of a call that fails.
    var facts: CallFacts { get }
}
