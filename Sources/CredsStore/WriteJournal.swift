/// The writes a rehearsal made to replicated databases, in order, one entry per key (the last write wins).
///
/// Cluster mode rehearses an admin write against the replica to learn what it changes, sends that to PostgreSQL,
/// and only then applies it: the rehearsal itself is rolled back.
final class WriteJournal {
    private(set) var entries: [JournalEntry] = []
    private var indexByKey: [JournalKey: Int] = [:]

    private struct JournalKey: Hashable {
        let database: String
        let key: [UInt8]
    }

    func note(_ database: LMDBDatabase, _ key: [UInt8], value: [UInt8]?, previous: [UInt8]?, existed: Bool) {
        let journalKey = JournalKey(database: database.name, key: key)
        if let index = indexByKey[journalKey] {
            // A later write of the same key: keep the first delete's `previous` (what the record was before), and
            // whether the key held a record before the first write.
            let earlier = entries[index]
            entries[index] = JournalEntry(
                database: database.name, key: key, value: value, previous: earlier.previous ?? previous,
                existed: earlier.existed)
        } else {
            indexByKey[journalKey] = entries.count
            entries.append(
                JournalEntry(database: database.name, key: key, value: value, previous: previous, existed: existed))
        }
    }
}

/// One record a rehearsal wrote: the database's name, the key, the new value (nil: deleted), for a delete the value
/// it removed, and whether the key held a record before the write (an update, not a creation).
public struct JournalEntry: Sendable, Equatable {
    public let database: String
    public let key: [UInt8]
    public let value: [UInt8]?
    public let previous: [UInt8]?
    public let existed: Bool
}
