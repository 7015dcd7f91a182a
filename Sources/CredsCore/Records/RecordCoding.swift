import Foundation

/// Encodes stored records as JSON. One place, so the on-disk format has one definition.
enum RecordCoding {
    static func encode<Record: Encodable>(_ record: Record) -> [UInt8] {
        // Encoding plain value types cannot fail.
        Array(try! JSONEncoder().encode(record))
    }

    static func decode<Record: Decodable>(_ type: Record.Type, from bytes: [UInt8]) throws -> Record {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
