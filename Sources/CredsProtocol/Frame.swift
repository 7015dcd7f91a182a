/// Length-prefixed framing: a 4-byte unsigned big-endian length, then that many bytes.
public enum Frame {
    /// Size of the length prefix.
    public static let headerSize = 4
    /// Largest frame the resolve socket reads.
    public static let resolveSocketLimit = 65_536

    /// The frame carrying `payload`.
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(headerSize + payload.count)
        let length = UInt32(payload.count)
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(contentsOf: payload)
        return out
    }

    /// Reads the length in a 4-byte header.
    public static func length<Bytes: Collection>(header: Bytes) -> Int where Bytes.Element == UInt8 {
        header.prefix(headerSize).reduce(0) { ($0 << 8) | Int($1) }
    }
}
