extension JSONValue {
    /// Parses UTF-8 JSON text. Throws for invalid UTF-8 or invalid JSON.
    public static func parse<Bytes: Collection>(_ bytes: Bytes) throws -> JSONValue where Bytes.Element == UInt8 {
        if let value = try bytes.withContiguousStorageIfAvailable({ buffer in
            try JSONReader.parse(UnsafeRawBufferPointer(buffer))
        }) {
            return value
        }
        return try Array(bytes).withUnsafeBytes { try JSONReader.parse($0) }
    }

    /// Compact UTF-8 JSON text, object members sorted by name.
    public func serialized() -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.value(self)
        return writer.bytes
    }
}
