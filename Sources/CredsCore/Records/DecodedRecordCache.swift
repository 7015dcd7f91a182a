import Synchronization

/// Decoded records by key, reused while the stored bytes are the same: a resolve then compares a few
/// hundred bytes instead of running a JSON decoder. Bounded; emptied when full.
final class DecodedRecordCache<Record: Sendable>: Sendable {
    /// A store key, hashed in one pass over its bytes (`[UInt8]`'s own hashing feeds the hasher byte by byte,
    /// which showed in the resolve profile).
    private struct Key: Hashable, Sendable {
        let bytes: [UInt8]

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    private let entries = Mutex<[Key: (bytes: [UInt8], record: Record)]>([:])
    let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// The record for `stored` (the value under `key`, read in place): from the cache when the bytes are
    /// unchanged, else copied and decoded.
    func record(key: [UInt8], stored: UnsafeRawBufferPointer, decode: ([UInt8]) throws -> Record) rethrows -> Record {
        let key = Key(bytes: key)
        if let cached = entries.withLock({ $0[key] }), cached.bytes.elementsEqual(stored) { return cached.record }
        let bytes = Array(stored)
        let record = try decode(bytes)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = (bytes, record)
        }
        return record
    }
}
