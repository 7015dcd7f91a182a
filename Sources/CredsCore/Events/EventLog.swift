import CredsProtocol
import CredsStore

/// The durable event outbox (SPEC 11) in its own LMDB database, keyed by big-endian sequence number. Events are
/// appended in the same transaction as the change that causes them, so a crash neither loses one nor invents one.
/// Kept: the newest 100,000, none older than 7 days (trimmed a few at a time by each append).
struct EventLog: Sendable {
    let entries: LMDBDatabase
    let meta: LMDBDatabase

    static let maxEvents: UInt64 = 100_000
    static let maxAgeMicros: Int64 = 7 * 86_400 * 1_000_000
    /// Old events removed per append at most: trimming keeps up with any rate of appends, in small steps.
    static let trimPerAppend = 16
    static let headKey = Array("events.head".utf8)

    static func key(_ seq: UInt64) -> [UInt8] { StoreKeys.bigEndian(seq) }

    /// The last event's number (0: none yet).
    func head(_ txn: borrowing Transaction) throws -> UInt64 {
        try txn.get(meta, Self.headKey).map(StoreKeys.uint64) ?? 0
    }

    /// Numbers and stores `drafts` in the caller's write transaction; returns the events as stored.
    @discardableResult
    func append(_ txn: borrowing Transaction, _ drafts: [EventDraft], local: Bool = true) throws -> [EventRecord] {
        guard !drafts.isEmpty else { return [] }
        var seq = try head(txn)
        let time = Timestamp.now()
        var stored: [EventRecord] = []
        for draft in drafts {
            seq &+= 1
            let event = EventRecord(
                seq: seq, time: time, type: draft.type, workspaceId: draft.workspaceId.text,
                provider: draft.provider?.text, connectionId: draft.connectionId?.text, from: draft.from,
                to: draft.to, reason: draft.reason, detail: draft.detail, local: local ? nil : false)
            try txn.put(entries, Self.key(seq), RecordCoding.encode(event))
            stored.append(event)
        }
        try txn.put(meta, Self.headKey, StoreKeys.bigEndian(seq))
        try trim(txn, head: seq, now: time)
        return stored
    }

    /// Removes the oldest events beyond the count or older than the age limit, at most `trimPerAppend`.
    private func trim(_ txn: borrowing Transaction, head: UInt64, now: Timestamp) throws {
        var doomed: [[UInt8]] = []
        try txn.scan(entries, from: []) { key, value in
            let seq = StoreKeys.uint64(key)
            let tooMany = head - min(head, seq) >= Self.maxEvents
            let time = (try? RecordCoding.decode(EventRecord.self, from: value))?.time.microseconds
            let tooOld = time.map { now.microseconds &- $0 > Self.maxAgeMicros } ?? true
            guard tooMany || tooOld else { return false }
            doomed.append(key)
            return doomed.count < Self.trimPerAppend
        }
        for key in doomed { try txn.delete(entries, key) }
    }

    /// Events after `since`, oldest first, at most `limit`, optionally of one workspace, and the number of the last
    /// event looked at (`since` when none): the next page starts after it, so a filter that matches nothing still
    /// moves on. At most `maxScanned` events are looked at per call. An event that does not decode is skipped (an
    /// outbox is a notification channel, not a record of truth: the audit trail is).
    func list(
        _ txn: borrowing Transaction,
        since: UInt64,
        limit: Int,
        workspaceId: Identifier?,
        where admits: (EventRecord) -> Bool = { _ in true }
    ) throws -> (events: [EventRecord], scannedThrough: UInt64) {
        var found: [EventRecord] = []
        var scanned = 0
        var last = since
        try txn.scan(entries, from: Self.key(since &+ 1)) { key, value in
            scanned += 1
            last = StoreKeys.uint64(key)
            if let event = try? RecordCoding.decode(EventRecord.self, from: value),
                workspaceId == nil || event.workspaceId == workspaceId?.text, admits(event)
            {
                found.append(event)
            }
            return found.count < limit && scanned < Self.maxScanned
        }
        return (found, last)
    }

    /// Events looked at per `events.list` at most (a filter matching few keeps each call short).
    static let maxScanned = 10_000
}
