import CredsProtocol

/// The `since` and `limit` of a list method (`audit.list`, `events.list`): entries after a number (0 or more), at
/// most 1 to 1,000 of them (default 100).
enum ListWindow {
    static func checked(since: Int64?, limit: Int64?, numbers: String) throws(RPCError) -> (since: UInt64, limit: Int) {
        guard (since ?? 0) >= 0 else { throw RPCError.invalidParams("since must be \(numbers), 0 or more") }
        guard (1...1000).contains(limit ?? 100) else { throw RPCError.invalidParams("limit must be from 1 to 1000") }
        return (UInt64(since ?? 0), Int(limit ?? 100))
    }
}
