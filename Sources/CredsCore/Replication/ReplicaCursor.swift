/// How far a replica has applied the cluster's change feed, kept in LMDB in the same transaction as the changes.
public struct ReplicaCursor: Sendable, Equatable {
    /// The last feed number applied.
    public let seq: Int64
    /// The feed's epoch when it was applied: another epoch means another database (restore): resync.
    public let epoch: String
    /// When the change numbered `seq` was committed (microseconds since 1970; 0 when `seq` is 0): a database
    /// restored to an earlier point and written again has another change under that number, so it resyncs.
    public let mark: Int64

    public init(seq: Int64, epoch: String, mark: Int64) {
        self.seq = seq
        self.epoch = epoch
        self.mark = mark
    }

    var stored: [UInt8] {
        StoreKeys.bigEndian(UInt64(bitPattern: seq)) + StoreKeys.bigEndian(UInt64(bitPattern: mark)) + Array(epoch.utf8)
    }

    init?(stored: [UInt8]) {
        guard stored.count >= 16 else { return nil }
        seq = Int64(bitPattern: StoreKeys.uint64(stored[0..<8]))
        mark = Int64(bitPattern: StoreKeys.uint64(stored[8..<16]))
        epoch = String(decoding: stored[16...], as: UTF8.self)
    }
}
