public import NIOCore

/// Builds JSON-RPC 2.0 answers.
public enum RPCResponse {
    /// The frame (length prefix included) of a successful answer, written straight into one buffer.
    public static func frame(id: JSONValue, result: any JSONWritable, allocator: ByteBufferAllocator) -> ByteBuffer {
        framed(id: id, allocator: allocator) { writer in
            writer.key("result")
            result.write(to: &writer)
        }
    }

    /// The frame (length prefix included) of an error answer.
    public static func frame(id: JSONValue, error: RPCError, allocator: ByteBufferAllocator) -> ByteBuffer {
        framed(id: id, allocator: allocator) { writer in
            writer.key("error")
            writer.value(error.json)
        }
    }

    /// A notification (no `id`): `{"jsonrpc":"2.0","method":…,"params":…}`, `params` left out when nil.
    public static func notification(method: String, params: JSONValue?, allocator: ByteBufferAllocator) -> ByteBuffer {
        framed(id: nil, allocator: allocator) { writer in
            writer.key("method")
            writer.string(method)
            if let params {
                writer.key("params")
                writer.value(params)
            }
        }
    }

    private static func framed(
        id: JSONValue?,
        allocator: ByteBufferAllocator,
        _ body: (inout JSONWriter) -> Void
    ) -> ByteBuffer {
        var writer = JSONWriter()
        writer.objectStart()
        writer.key("jsonrpc")
        writer.string("2.0")
        if let id {
            writer.key("id")
            writer.value(id)
        }
        body(&writer)
        writer.objectEnd()
        var buffer = allocator.buffer(capacity: Frame.headerSize + writer.bytes.count)
        buffer.writeInteger(UInt32(truncatingIfNeeded: writer.bytes.count))
        buffer.writeBytes(writer.bytes)
        return buffer
    }
}
