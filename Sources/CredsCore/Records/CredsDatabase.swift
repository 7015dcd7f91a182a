public import CredsStore

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

    /// Opens the store in `directory` (created 0700 by the caller).
    public init(directory: String, initialMapSize: Int = 64 << 20) throws {
        let environment = try LMDBEnvironment(directory: directory, initialMapSize: initialMapSize)
        self.environment = environment
        connections = try environment.openDatabase("connections")
        connectionsByOwner = try environment.openDatabase("connections_by_owner")
        policies = try environment.openDatabase("policies")
        members = try environment.openDatabase("members")
        grants = try environment.openDatabase("grants")
        meta = try environment.openDatabase("meta")
        writer = StoreWriter(environment: environment)
    }

    /// Stops the writer after the queued writes.
    public func close() {
        writer.stop()
    }

    /// The next value of the store-wide revision counter, inside a write transaction.
    func nextRevision(_ txn: borrowing Transaction) throws -> UInt64 {
        let current = try txn.get(meta, StoreKeys.revisionCounter).map { bytes in
            bytes.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        } ?? 0
        let next = current + 1
        try txn.put(meta, StoreKeys.revisionCounter, (0..<8).reversed().map { UInt8(truncatingIfNeeded: next >> ($0 * 8)) })
        return next
    }

    /// The connection with this id.
    func connection(_ txn: borrowing Transaction, id: String) throws -> ConnectionRecord? {
        try txn.get(connections, StoreKeys.connection(id)).map { try RecordCoding.decode(ConnectionRecord.self, from: $0) }
    }

    /// Every connection of a workspace, optionally of one provider, oldest first.
    func connections(_ txn: borrowing Transaction, workspaceId: String, provider: String?) throws -> [ConnectionRecord] {
        var ids: [String] = []
        try txn.scan(connectionsByOwner, prefix: StoreKeys.ownerPrefix(workspaceId, provider)) { key, _ in
            ids.append(StoreKeys.lastPart(key))
            return true
        }
        var records: [ConnectionRecord] = []
        for id in ids {
            if let record = try connection(txn, id: id) { records.append(record) }
        }
        return records.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// Writes a connection and its owner index entry.
    func put(_ txn: borrowing Transaction, _ record: ConnectionRecord) throws {
        try txn.put(connections, StoreKeys.connection(record.id), RecordCoding.encode(record))
        try txn.put(connectionsByOwner, StoreKeys.ownerIndex(record.workspaceId, record.provider, record.id), [])
    }

    /// Removes a connection and its owner index entry.
    func remove(_ txn: borrowing Transaction, _ record: ConnectionRecord) throws {
        try txn.delete(connections, StoreKeys.connection(record.id))
        try txn.delete(connectionsByOwner, StoreKeys.ownerIndex(record.workspaceId, record.provider, record.id))
    }

    /// The role of `principal` in `workspaceId`.
    func role(_ txn: borrowing Transaction, workspaceId: String, principal: String) throws -> MemberRole {
        guard let bytes = try txn.get(members, StoreKeys.member(workspaceId, principal)) else { return .none }
        return MemberRole(rawValue: String(decoding: bytes, as: UTF8.self)) ?? .none
    }

    /// The routing policy of a workspace for a provider (default `auto`).
    func routingMode(_ txn: borrowing Transaction, workspaceId: String, provider: String) throws -> RoutingMode {
        guard let bytes = try txn.get(policies, StoreKeys.policy(workspaceId, provider)) else { return .auto }
        return RoutingMode(rawValue: String(decoding: bytes, as: UTF8.self)) ?? .auto
    }
}
