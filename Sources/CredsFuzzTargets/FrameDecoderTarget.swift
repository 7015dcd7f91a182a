import CredsProtocol
import NIOCore

/// Input: one byte choosing the frame limit, one byte choosing the piece size, then the byte stream.
///
/// The stream reaches `FrameDecoder` in pieces, the way `ByteToMessageHandler` hands it on (bytes appended
/// to one buffer, events taken until it needs more, read bytes discarded now and then); the events must equal
/// those of a plain one-pass reading of the whole stream.
enum FrameDecoderTarget {
    static let limits = [8, 64, 1024, 65536]

    static func run(_ input: [UInt8]) -> FuzzFinding? {
        guard input.count >= 2 else { return nil }
        let limit = limits[Int(input[0]) % limits.count]
        let pieceSize = 1 + Int(input[1]) % 64
        let stream = Array(input[2...])

        let decoded = decodeInPieces(stream, limit: limit, pieceSize: pieceSize)
        let expected = reference(stream, limit: limit)
        guard decoded == expected else {
            return FuzzFinding("pieces of \(pieceSize) bytes gave \(decoded.count) events, one pass \(expected.count)")
        }
        return nil
    }

    /// The events `FrameDecoder` reads from the stream arriving in pieces of `pieceSize` bytes.
    static func decodeInPieces(_ stream: [UInt8], limit: Int, pieceSize: Int) -> [Event] {
        var decoder = FrameDecoder(maxFrameBytes: limit)
        var buffer = ByteBuffer()
        var events: [Event] = []
        var offset = 0
        while offset < stream.count {
            let end = min(offset + pieceSize, stream.count)
            buffer.writeBytes(stream[offset..<end])
            offset = end
            while let event = decoder.next(from: &buffer) {
                events.append(Event(event))
            }
            if offset % 3 == 0 { buffer.discardReadBytes() }
        }
        return events
    }

    /// A frame event reduced to what can be compared.
    enum Event: Equatable {
        case frame([UInt8])
        case empty
        case tooLarge(Int)

        init(_ event: FrameEvent) {
            switch event {
            case .frame(let buffer): self = .frame(Array(buffer.readableBytesView))
            case .empty: self = .empty
            case .tooLarge(let announced): self = .tooLarge(announced)
            }
        }
    }

    /// SPEC section 3 read literally: big-endian length, payload; a length over the limit ends the stream.
    static func reference(_ stream: [UInt8], limit: Int) -> [Event] {
        var events: [Event] = []
        var offset = 0
        while stream.count - offset >= Frame.headerSize {
            let length = stream[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            if length > limit {
                events.append(.tooLarge(length))
                break
            }
            guard stream.count - offset - Frame.headerSize >= length else { break }
            let start = offset + Frame.headerSize
            events.append(length == 0 ? .empty : .frame(Array(stream[start..<start + length])))
            offset = start + length
        }
        return events
    }
}
