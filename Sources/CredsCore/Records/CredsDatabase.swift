public import CredsStore
import CredsProtocol
import Synchronization

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
    /// The event outbox (SPEC 11).
    let events: EventLog
    /// Cluster mode: the version PostgreSQL gave each replicated record (`CredsDatabase+Replica`).
    let replicaVersions: LMDBDatabase
    /// Budgets of built-in use by workspace and provider (SPEC 12); replicated in cluster mode.
    let budgets: LMDBDatabase
    /// This host's usage by workspace, provider and UTC day (`CredsDatabase+Usage`); never replicated.
    let usage: LMDBDatabase
    /// Usage counted and not yet stored, and the budgets' counters (SPEC 12).
    let usageLedger = UsageLedger()
    /// Where the next sweep of expired grants and OAuth states starts, by table (`CredsDatabase+Expiry`).
    let sweepCursors = Mutex<[String: [UInt8]]>([:])
    private let connectionCache = DecodedRecordCache<ConnectionRecord>()
    private let grantCache = DecodedRecordCache<GrantRecord>()

    /// Opens the store in `directory` (created 0700 by the caller).
    public init(directory: String, initialMapSize: Int = 64 << 20, auditMaxEntries: UInt64 = 1_000_000) throws {
        let environment = try LMDBEnvironment(directory: directory, initialMapSize: initialMapSize)
        self.environment = environment
        connections = try environment.openDatabase("connections", replicated: true)
        connectionsByOwner = try environment.openDatabase("connections_by_owner")
        policies = try environment.openDatabase("policies", replicated: true)
        members = try environment.openDatabase("members", replicated: true)
        grants = try environment.openDatabase("grants", replicated: true)
        meta = try environment.openDatabase("meta")
        oauthStates = try environment.openDatabase("oauth_states", replicated: true)
        auditLog = AuditLog(entries: try environment.openDatabase("audit"), meta: meta, maxEntries: auditMaxEntries)
        replicaVersions = try environment.openDatabase("replica_versions")
        events = EventLog(entries: try environment.openDatabase("events"), meta: meta)
        budgets = try environment.openDatabase("budgets", replicated: true)
        usage = try environment.openDatabase("usage")
        writer = StoreWriter(environment: environment)
    }

    /// Stops the writer after the queued writes.
    public func close() {
        writer.stop()
    }

    /// The next value of the store-wide revision counter, inside a write transaction.
    func nextRevision(_ txn: borrowing Transaction) throws -> UInt64 {
        let (next, overflow) = try currentRevision(txn).addingReportingOverflow(1)
        // Replicated records cannot carry a revision near the end (`maxRevision`); a store counting up to it
        // would take longer than anything runs.
        guard !overflow else { throw RPCError(.internalError, "the store's revision counter is exhausted") }
        try txn.put(meta, StoreKeys.revisionCounter, StoreKeys.bigEndian(next))
        return next
    }

    /// The revision counter's value (0 before the first write).
    func currentRevision(_ txn: borrowing Transaction) throws -> UInt64 {
        try txn.get(meta, StoreKeys.revisionCounter).map(StoreKeys.uint64) ?? 0
    }

    /// Moves the revision counter up to `revision` if it is below (a record another cluster host wrote): the next
    /// local write of that record gets a higher revision than the one it replaces.
    func raiseRevision(_ txn: borrowing Transaction, to revision: UInt64) throws {
        if try currentRevision(txn) < revision {
            try txn.put(meta, StoreKeys.revisionCounter, StoreKeys.bigEndian(revision))
        }
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
        try put(txn, record, stored: RecordCoding.encode(record))
    }

    /// Writes `record` as the bytes `stored` (its encoding, or the bytes another cluster host wrote), with its
    /// owner index entry, the per-key record counts and the events the change makes (`EventDraft`; none while a
    /// cluster replica resyncs, which rewrites every record).
    func put(
        _ txn: borrowing Transaction,
        _ record: ConnectionRecord,
        stored: [UInt8],
        events recording: EventRecording = .local
    ) throws {
        let previous = try connection(txn, id: record.id)
        if let previous, previous.workspaceId != record.workspaceId || previous.provider != record.provider {
            // Owners never change here; a replicated row that says otherwise must not leave a stale index entry.
            try remove(txn, previous)
            return try put(txn, record, stored: stored, events: recording)
        }
        if recording != .off {
            try events.append(
                txn, EventDraft.connectionChanges(from: previous, to: record), local: recording == .local)
        }
        if previous?.sealed?.keyId != record.sealed?.keyId {
            if let keyId = previous?.sealed?.keyId { try adjustKeyCount(txn, keyId: keyId, by: -1) }
            if let keyId = record.sealed?.keyId { try adjustKeyCount(txn, keyId: keyId, by: 1) }
        }
        try txn.put(connections, StoreKeys.connection(record.id), stored)
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
            let count = Int64(bitPattern: StoreKeys.uint64(value))
            if count > 0 { counts[keyId] = count }
            return true
        }
        return counts
    }

    private func adjustKeyCount(_ txn: borrowing Transaction, keyId: String, by delta: Int64) throws {
        let key = StoreKeys.keyCountPrefix + Array(keyId.utf8)
        let current = try txn.get(meta, key).map { Int64(bitPattern: StoreKeys.uint64($0)) } ?? 0
        let next = max(0, current + delta)
        try txn.put(meta, key, StoreKeys.bigEndian(UInt64(bitPattern: next)))
    }

    /// The role of `principal` in `workspaceId`.
    func role(_ txn: borrowing Transaction, workspaceId: Identifier, principal: Identifier) throws -> MemberRole {
        guard let bytes = try txn.get(members, StoreKeys.member(workspaceId, principal)) else { return .none }
        return MemberRole(rawValue: String(decoding: bytes, as: UTF8.self)) ?? .none
    }

    /// The routing policy of a workspace for a provider (default `auto`).
    func routingMode(_ txn: borrowing Transaction, workspaceId: Identifier, provider: Identifier) throws -> RoutingMode
    {
        try routingPolicy(txn, workspaceId: workspaceId, provider: provider).mode
    }

    /// The routing policy of a workspace for a provider, with its `fallbackOn` (default `auto`, none).
    func routingPolicy(_ txn: borrowing Transaction, workspaceId: Identifier, provider: Identifier) throws
        -> RoutingPolicy
    {
        RoutingPolicy(stored: try txn.get(policies, StoreKeys.policy(workspaceId, provider)))
    }
}
