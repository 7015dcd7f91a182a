public import CredsStore
import CredsProtocol

/// Cluster mode's side of the store (SPEC 10): the version PostgreSQL gave each record, the feed cursor, and the
/// ways records from PostgreSQL are applied (a page of the feed, a full resync, a write this host took).
extension CredsDatabase {
    private static let cursorKey = Array("replica.cursor".utf8)

    func table(for entity: ReplicatedEntity) -> LMDBDatabase {
        switch entity {
        case .connection: connections
        case .policy: policies
        case .member: members
        case .grant: grants
        case .oauthState: oauthStates
        case .budget: budgets
        }
    }

    private static func versionKey(_ entity: ReplicatedEntity, _ key: [UInt8]) -> [UInt8] {
        Array(entity.rawValue.utf8) + [0] + key
    }

    /// The version of a record this replica holds (0: never seen).
    func replicaVersion(_ txn: borrowing Transaction, _ entity: ReplicatedEntity, _ key: [UInt8]) throws -> UInt64 {
        try txn.get(replicaVersions, Self.versionKey(entity, key)).map(StoreKeys.uint64) ?? 0
    }

    /// The feed position this replica has applied, nil before its first sync.
    public func replicaCursor() throws -> ReplicaCursor? {
        try environment.read { txn in try txn.get(meta, Self.cursorKey).flatMap(ReplicaCursor.init(stored:)) }
    }

    /// Whether the store holds records that did not come from a cluster (a single-host store): serving it as a
    /// replica would resync them away, so `credsd serve` refuses and points at `credsd cluster import`.
    public func holdsSingleHostRecords() throws -> Bool {
        try environment.read { txn in
            guard try txn.get(meta, Self.cursorKey) == nil else { return false }
            var found = false
            for entity in ReplicatedEntity.allCases {
                try txn.scan(table(for: entity), from: []) { _, _ in
                    found = true
                    return false
                }
            }
            return found
        }
    }

    /// Every record of a single-host store, as changes that create them (`credsd cluster import`), from one read
    /// transaction.
    public func singleHostRecords() throws -> [ReplicatedChange] {
        try environment.read { txn in
            var records: [ReplicatedChange] = []
            for entity in ReplicatedEntity.allCases {
                try txn.scan(table(for: entity), from: []) { key, value in
                    records.append(
                        ReplicatedChange(
                            entity: entity, key: key, workspaceId: Self.workspaceId(entity, key: key, value: value),
                            value: value, expectedVersion: 0))
                    return true
                }
            }
            return records
        }
    }

    /// The changes a rehearsal's journal describes, each with the version this replica holds (read in the
    /// rehearsal's own transaction, so it is the version the write was computed from).
    func replicatedChanges(_ txn: borrowing Transaction, _ entries: [JournalEntry]) throws -> [ReplicatedChange] {
        try entries.compactMap { entry in
            guard let entity = ReplicatedEntity(table: entry.database) else { return nil }
            return ReplicatedChange(
                entity: entity, key: entry.key,
                workspaceId: Self.workspaceId(entity, key: entry.key, value: entry.value ?? entry.previous),
                value: entry.value, expectedVersion: try replicaVersion(txn, entity, entry.key),
                replacesExisting: entry.existed)
        }
    }

    /// The workspace a record belongs to ("" when its bytes do not say).
    private static func workspaceId(_ entity: ReplicatedEntity, key: [UInt8], value: [UInt8]?) -> String {
        switch entity {
        case .policy, .member, .budget:
            return String(decoding: key.prefix { $0 != 0 }, as: UTF8.self)
        case .connection:
            return value.flatMap { try? RecordCoding.decode(ConnectionRecord.self, from: $0) }?.workspaceId.text ?? ""
        case .grant:
            return value.flatMap { try? RecordCoding.decode(GrantRecord.self, from: $0) }?.workspaceId.text ?? ""
        case .oauthState:
            return value.flatMap { try? RecordCoding.decode(OAuthStateRecord.self, from: $0) }?.workspaceId.text ?? ""
        }
    }

    /// Applies every row whose version is above the replica's; returns the rows that could not be applied as
    /// they are (a record that does not decode, names another key, or carries an impossible revision), which are
    /// applied *closed* instead: the key is removed here and the version kept, so one bad row never stops the
    /// feed and never serves a record credsd cannot read.
    @discardableResult
    func apply(_ txn: borrowing Transaction, _ rows: [ReplicatedRow], events recording: EventRecording = .local) throws
        -> [ReplicatedRow]
    {
        var refused: [ReplicatedRow] = []
        for row in rows {
            // LMDB keys are 1 to 511 bytes: a key outside that cannot be stored here in any form.
            guard (1...Self.maxKeyBytes).contains(row.key.count) else {
                refused.append(row)
                continue
            }
            guard try row.version > replicaVersion(txn, row.entity, row.key) else { continue }
            do {
                // A version this host wrote is its own change, whichever path applies it first.
                try applyRow(txn, row, events: recording == .replicated && row.fromThisHost ? .local : recording)
            } catch let error as LMDBError {
                throw error
            } catch {
                refused.append(row)
                try applyRow(
                    txn, ReplicatedRow(entity: row.entity, key: row.key, version: row.version, value: nil),
                    events: .off)
            }
        }
        return refused
    }

    /// The longest key LMDB takes (its default `MDB_MAXKEYSIZE`, 511), less the entity prefix of the versions table.
    static let maxKeyBytes = 480

    /// The highest revision a replicated record may carry: far above any count of writes, far below the counter's
    /// end, so `nextRevision` can always add one.
    static let maxRevision: UInt64 = 1 << 62

    private func applyRow(_ txn: borrowing Transaction, _ row: ReplicatedRow, events recording: EventRecording) throws {
        let table = table(for: row.entity)
        switch (row.entity, row.value) {
        case (.connection, let value?):
            let record = try RecordCoding.decode(ConnectionRecord.self, from: value)
            guard StoreKeys.connection(record.id) == row.key else { throw ReplicaError.keyMismatch }
            guard record.revision <= Self.maxRevision else { throw ReplicaError.revisionOutOfRange }
            try put(txn, record, stored: value, events: recording)
            try raiseRevision(txn, to: record.revision)
        case (.connection, nil):
            if let existing = try? connection(txn, id: StoreKeys.lastPart(row.key)) {
                try remove(txn, existing)
            } else {
                try txn.delete(table, row.key)
            }
        case (.policy, let value?):
            try putPolicy(txn, key: row.key, value: value, events: recording)
        case (_, let value?):
            try txn.put(table, row.key, value)
        case (_, nil):
            try txn.delete(table, row.key)
        }
        try txn.put(replicaVersions, Self.versionKey(row.entity, row.key), StoreKeys.bigEndian(row.version))
    }

    /// Applies a page of the feed read after `from` and moves the cursor to `cursor`, in one transaction: a
    /// crash keeps both or neither. Does nothing and returns false when the stored cursor is no longer at `from`
    /// (another pass applied it first; the cursor never goes back).
    public func applyFeedPage(_ rows: [ReplicatedRow], from: Int64, cursor: ReplicaCursor) async throws
        -> FeedPageOutcome
    {
        try await commit { txn in
            let stored = try txn.get(self.meta, Self.cursorKey).flatMap(ReplicaCursor.init(stored:))
            guard (stored?.seq ?? 0) == from else { return FeedPageOutcome(moved: false, refused: []) }
            let refused = try self.apply(txn, rows, events: .replicated)
            try txn.put(self.meta, Self.cursorKey, cursor.stored)
            return FeedPageOutcome(moved: true, refused: refused)
        }
    }

    /// Replaces every replicated record with `rows` (one snapshot of PostgreSQL) and sets the cursor, in one
    /// transaction: readers see the old replica or the new one, never a mix.
    @discardableResult
    public func resync(_ rows: [ReplicatedRow], cursor: ReplicaCursor) async throws -> [ReplicatedRow] {
        try await commit { txn in
            for entity in ReplicatedEntity.allCases { try txn.clear(self.table(for: entity)) }
            try txn.clear(self.connectionsByOwner)
            try txn.clear(self.replicaVersions)
            var counts: [[UInt8]] = []
            try txn.scan(self.meta, prefix: StoreKeys.keyCountPrefix) { key, _ in
                counts.append(key)
                return true
            }
            for key in counts { try txn.delete(self.meta, key) }
            // Every record is written again: none of it is news (no events).
            let refused = try self.apply(txn, rows, events: .off)
            try txn.put(self.meta, Self.cursorKey, cursor.stored)
            return refused
        }
    }

    /// Runs `body` on the writer and waits for its durable commit.
    private func commit<Value: Sendable>(_ body: @escaping @Sendable (borrowing Transaction) throws -> Value)
        async throws -> Value
    {
        try await withCheckedThrowingContinuation { continuation in
            writer.submit(body) { continuation.resume(with: $0) }
        }
    }
}

/// What applying a page did: whether the cursor moved (false: another pass had moved it first, nothing was
/// applied), and the rows applied closed (`CredsDatabase.apply`).
public struct FeedPageOutcome: Sendable {
    public let moved: Bool
    public let refused: [ReplicatedRow]
}

/// A replicated row that cannot be applied as it is.
enum ReplicaError: Error, CustomStringConvertible {
    /// A connection row whose record names another id than its key.
    case keyMismatch
    /// A record whose revision is beyond `maxRevision`.
    case revisionOutOfRange

    var description: String {
        switch self {
        case .keyMismatch: "a connection row's record does not match its key"
        case .revisionOutOfRange: "a connection row's revision is out of range"
        }
    }
}
