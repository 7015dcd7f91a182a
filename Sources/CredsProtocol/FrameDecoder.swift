public import NIOCore

/// What the frame decoder hands on: a frame's payload, an empty frame, or an announced length over the limit.
public enum FrameEvent: Sendable {
    case frame(ByteBuffer)
    case empty
    case tooLarge(announced: Int)
}

/// Splits a byte stream into length-prefixed frames, refusing any frame larger than `maxFrameBytes`.
///
/// After a too-large length it stops decoding: the connection is about to close.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = FrameEvent

    public let maxFrameBytes: Int
    private var refused = false

    public init(maxFrameBytes: Int) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !refused else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
            return .needMoreData
        }
        let announced = Int(length)
        if announced > maxFrameBytes {
            refused = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(wrapInboundOut(.tooLarge(announced: announced)))
            return .needMoreData
        }
        if announced == 0 {
            buffer.moveReaderIndex(forwardBy: Frame.headerSize)
            context.fireChannelRead(wrapInboundOut(.empty))
            return .continue
        }
        guard buffer.readableBytes >= Frame.headerSize + announced else {
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        let payload = buffer.readSlice(length: announced)!
        context.fireChannelRead(wrapInboundOut(.frame(payload)))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
