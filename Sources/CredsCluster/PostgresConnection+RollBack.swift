import Logging
import PostgresNIO

extension PostgresConnection {
    /// ROLLBACK after a failure, when the connection is still open, ignoring what it answers. Never on a closed
    /// connection: PostgresNIO 1.33 writes a query without a promise, and one written after the close is dropped
    /// and never answers (vapor/postgres-nio#487, reverted in #501); the caller would wait on it forever.
    func rollBackQuietly(logger: Logger) async {
        guard !isClosed else { return }
        _ = try? await query("ROLLBACK", logger: logger)
    }
}
