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
        guard let event = next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(event))
        return .continue
    }

    /// Takes the next event from the front of `buffer`, or nil until more bytes arrive. After a too-large
    /// length every byte is dropped unread.
    public mutating func next(from buffer: inout ByteBuffer) -> FrameEvent? {
        guard !refused else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
            return nil
        }
        let announced = Int(length)
        if announced > maxFrameBytes {
            refused = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .tooLarge(announced: announced)
        }
        if announced == 0 {
            buffer.moveReaderIndex(forwardBy: Frame.headerSize)
            return .empty
        }
        guard buffer.readableBytes >= Frame.headerSize + announced else {
            return nil
        }
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        return .frame(buffer.readSlice(length: announced)!)
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
