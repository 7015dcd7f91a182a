public import CredsProtocol

/// The params of a method that takes none: any name is refused.
public struct NoParams: MethodParams {
    public init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        try ParamsReader.read(bytes, range: range) { _, _ in false }
    }

    public var facts: CallFacts { CallFacts() }
}
