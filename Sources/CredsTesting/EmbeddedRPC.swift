public import CredsCore
public import CredsProtocol
import CredsServer
import Logging
public import NIOCore
public import NIOEmbedded

/// One connection's pipeline (frame decoder and request handler) on an `EmbeddedChannel`: bytes in, frames out,
/// no socket and no thread. For methods that answer on the event loop (reads, API-key resolves); a write's
/// answer comes from the store's writer thread, which an embedded loop cannot take.
public final class EmbeddedRPC {
    public let channel: EmbeddedChannel

    public init(methods: MethodRegistry, maxFrameBytes: Int = Frame.resolveSocketLimit) throws {
        channel = EmbeddedChannel()
        try RPCPipeline.add(
            to: channel.pipeline.syncOperations, methods: methods, maxFrameBytes: maxFrameBytes,
            logger: Logger(label: "credsd.embedded"))
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/embedded")).wait()
    }

    /// Feeds `bytes` to the pipeline as if read from the socket.
    public func send(_ bytes: [UInt8]) throws {
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        channel.embeddedEventLoop.run()
    }

    /// Every answer written so far, each frame's JSON parsed, in the order written.
    public func answers() throws -> [JSONValue] {
        var frames: [JSONValue] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            while buffer.readableBytes >= Frame.headerSize {
                let length = Int(buffer.readInteger(as: UInt32.self)!)
                guard let payload = buffer.readBytes(length: length) else { break }
                frames.append(try JSONValue.parse(payload))
            }
        }
        return frames
    }

    deinit {
        _ = try? channel.finish()
    }
}
