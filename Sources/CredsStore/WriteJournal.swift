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

    func note(_ database: LMDBDatabase, _ key: [UInt8], value: [UInt8]?, previous: [UInt8]?) {
        let journalKey = JournalKey(database: database.name, key: key)
        if let index = indexByKey[journalKey] {
            // A later write of the same key: keep the first delete's `previous` (what the record was before).
            let earlier = entries[index]
            entries[index] = JournalEntry(
                database: database.name, key: key, value: value, previous: earlier.previous ?? previous)
        } else {
            indexByKey[journalKey] = entries.count
            entries.append(JournalEntry(database: database.name, key: key, value: value, previous: previous))
        }
    }
}

/// One record a rehearsal wrote: the database's name, the key, the new value (nil: deleted) and, for a delete,
/// the value it removed.
public struct JournalEntry: Sendable, Equatable {
    public let database: String
    public let key: [UInt8]
    public let value: [UInt8]?
    public let previous: [UInt8]?
}
