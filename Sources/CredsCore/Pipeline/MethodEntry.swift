public import CredsProtocol
public import NIOCore

/// One method of a socket: its name, how it is audited, and how to call it from a request's bytes.
public struct MethodEntry: Sendable {
    public let name: String
    public let kind: MethodKind
    private let invoke: @Sendable (UnsafeRawBufferPointer, Range<Int>?, inout CallContext) -> MethodReply

    /// A method with typed params: they are read first (a refusal there is the call's answer), their facts go
    /// into the context, then `body` runs.
    static func typed<Params: MethodParams>(
        _ name: String,
        _ kind: MethodKind,
        _ body: @escaping @Sendable (Params, CallContext) -> MethodReply
    ) -> MethodEntry {
        MethodEntry(name: name, kind: kind) { bytes, range, context in
            let params: Params
            do throws(RPCError) {
                params = try Params(bytes, range: range)
            } catch {
                return .now(.failure(error))
            }
            context.facts = params.facts
            return body(params, context)
        }
    }

    /// Calls the method with the params at `range` of `bytes`; `context.facts` is set once the params were read.
    /// Runs on the context's event loop.
    public func call(_ bytes: UnsafeRawBufferPointer, params range: Range<Int>?, context: inout CallContext)
        -> MethodReply
    {
        invoke(bytes, range, &context)
    }
}
