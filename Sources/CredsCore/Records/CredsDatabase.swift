public import CredsStore
import CredsProtocol

/// The LMDB environment of a data directory, its named databases and its writer.
public final class CredsDatabase: Sendable {
    public let environment: LMDBEnvironment
    public let writer: StoreWriter
    let connections: LMDBDatabase
    let connectionsByOwner: LMDBDatabase
    let policies: LMDBDatabase
    let members: LMDBDatabase
    let grants: LMDBDatabase
    let meta: LMDBDatabase
    let oauthStates: LMDBDatabase
    let auditLog: AuditLog
    private let connectionCache = DecodedRecordCache<ConnectionRecord>()
    private let grantCache = DecodedRecordCache<GrantRecord>()

    /// Opens the store in `directory` (created 0700 by the caller).
    public init(directory: String, initialMapSize: Int = 64 << 20, auditMaxEntries: UInt64 = 1_000_000) throws {
        let environment = try LMDBEnvironment(directory: directory, initialMapSize: initialMapSize)
        self.environment = environment
        connections = try environment.openDatabase("connections")
        connectionsByOwner = try environment.openDatabase("connections_by_owner")
        policies = try environment.openDatabase("policies")
        members = try environment.openDatabase("members")
        grants = try environment.openDatabase("grants")
        meta = try environment.openDatabase("meta")
        oauthStates = try environment.openDatabase("oauth_states")
        auditLog = AuditLog(entries: try environment.openDatabase("audit"), meta: meta, maxEntries: auditMaxEntries)
        writer = StoreWriter(environment: environment)
    }

    /// Stops the writer after the queued writes.
    public func close() {
        writer.stop()
    }

    /// The next value of the store-wide revision counter, inside a write transaction.
    func nextRevision(_ txn: borrowing Transaction) throws -> UInt64 {
        let current =
            try txn.get(meta, StoreKeys.revisionCounter).map { bytes in
                bytes.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
            } ?? 0
        let next = current + 1
        try txn.put(
            meta, StoreKeys.revisionCounter, (0..<8).reversed().map { UInt8(truncatingIfNeeded: next >> ($0 * 8)) })
        return next
    }

    /// The connection with this id.
    func connection(_ txn: borrowing Transaction, id: Identifier) throws -> ConnectionRecord? {
        try connection(txn, key: StoreKeys.connection(id))
    }

    /// The connection stored under `key` (its id's bytes).
    private func connection(_ txn: borrowing Transaction, key: [UInt8]) throws -> ConnectionRecord? {
        try txn.withValue(connections, key) { stored in
            try connectionCache.record(key: key, stored: stored) {
                try RecordCoding.decode(ConnectionRecord.self, from: $0)
            }
        }
    }

    /// The grant stored under `digest`.
    func grant(_ txn: borrowing Transaction, digest: [UInt8]) throws -> GrantRecord? {
        try txn.withValue(grants, digest) { stored in
            try grantCache.record(key: digest, stored: stored) { try RecordCoding.decode(GrantRecord.self, from: $0) }
        }
    }

    /// Every connection of a workspace, optionally of one provider, oldest first.
    func connections(_ txn: borrowing Transaction, workspaceId: Identifier, provider: Identifier?) throws
        -> [ConnectionRecord]
    {
        var records: [ConnectionRecord] = []
        try txn.scan(connectionsByOwner, prefix: StoreKeys.ownerPrefix(workspaceId, provider)) { key, _ in
            // The index key ends with the connection id, which is the connection's own key.
            let start = key.lastIndex(of: 0).map { $0 + 1 } ?? 0
            if let record = try connection(txn, key: Array(key[start...])) { records.append(record) }
            return true
        }
        guard records.count > 1 else { return records }
        return records.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// Writes a connection and its owner index entry, keeping the per-key record counts. Every write but a token
    /// refresh or a re-seal (`changesAuthorization: false`) moves the record's authorization revision.
    func put(_ txn: borrowing Transaction, _ record: ConnectionRecord, changesAuthorization: Bool = true) throws {
        var record = record
        if changesAuthorization { record.authorizationRevision = record.revision }
        let previous = try connection(txn, id: record.id)
        if previous?.sealed?.keyId != record.sealed?.keyId {
            if let keyId = previous?.sealed?.keyId { try adjustKeyCount(txn, keyId: keyId, by: -1) }
            if let keyId = record.sealed?.keyId { try adjustKeyCount(txn, keyId: keyId, by: 1) }
        }
        try txn.put(connections, StoreKeys.connection(record.id), RecordCoding.encode(record))
        try txn.put(connectionsByOwner, StoreKeys.ownerIndex(record.workspaceId, record.provider, record.id), [])
    }

    /// Removes a connection and its owner index entry.
    func remove(_ txn: borrowing Transaction, _ record: ConnectionRecord) throws {
        if let keyId = record.sealed?.keyId { try adjustKeyCount(txn, keyId: keyId, by: -1) }
        try txn.delete(connections, StoreKeys.connection(record.id))
        try txn.delete(connectionsByOwner, StoreKeys.ownerIndex(record.workspaceId, record.provider, record.id))
    }

    /// How many records each master key seals, kept up to date by every write.
    func keyCounts(_ txn: borrowing Transaction) throws -> [String: Int64] {
        var counts: [String: Int64] = [:]
        try txn.scan(meta, prefix: StoreKeys.keyCountPrefix) { key, value in
            let keyId = String(decoding: key.dropFirst(StoreKeys.keyCountPrefix.count), as: UTF8.self)
            let count = value.reduce(Int64(0)) { ($0 << 8) | Int64($1) }
            if count > 0 { counts[keyId] = count }
            return true
        }
        return counts
    }

    private func adjustKeyCount(_ txn: borrowing Transaction, keyId: String, by delta: Int64) throws {
        let key = StoreKeys.keyCountPrefix + Array(keyId.utf8)
        let current = try txn.get(meta, key).map { $0.reduce(Int64(0)) { ($0 << 8) | Int64($1) } } ?? 0
        let next = max(0, current + delta)
        try txn.put(meta, key, (0..<8).reversed().map { UInt8(truncatingIfNeeded: next >> ($0 * 8)) })
    }

    /// The role of `principal` in `workspaceId`.
    func role(_ txn: borrowing Transaction, workspaceId: Identifier, principal: Identifier) throws -> MemberRole {
        guard let bytes = try txn.get(members, StoreKeys.member(workspaceId, principal)) else { return .none }
        return MemberRole(rawValue: String(decoding: bytes, as: UTF8.self)) ?? .none
    }

    /// The routing policy of a workspace for a provider (default `auto`).
    func routingMode(_ txn: borrowing Transaction, workspaceId: Identifier, provider: Identifier) throws -> RoutingMode
    {
        guard let bytes = try txn.get(policies, StoreKeys.policy(workspaceId, provider)) else { return .auto }
        return RoutingMode(rawValue: String(decoding: bytes, as: UTF8.self)) ?? .auto
    }
}
