import Logging
import PostgresNIO

/// Server-side limits for the open transaction (`SET LOCAL`): the server gives up on a lock or a statement before
/// the host's own deadline does (a lock held by a stalled host, a slow disk), and ends the transaction itself if
/// the host stalls inside it.
struct TransactionLimits: Sendable {
    var lock: Duration
    var statement: Duration
    var idle: Duration

    /// The same limit for all three.
    init(all limit: Duration) {
        self.init(lock: limit, statement: limit, idle: limit)
    }

    init(lock: Duration, statement: Duration, idle: Duration) {
        self.lock = lock
        self.statement = statement
        self.idle = idle
    }

    /// A write's: a second under `timeout` (at least one second), so the server answers first.
    static func write(within timeout: Duration) -> TransactionLimits {
        TransactionLimits(all: .seconds(max(1, timeout.components.seconds - 1)))
    }

    func apply(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            SELECT set_config('lock_timeout', \(Self.text(lock)), true),
                   set_config('statement_timeout', \(Self.text(statement)), true),
                   set_config('idle_in_transaction_session_timeout', \(Self.text(idle)), true)
            """, logger: logger)
    }

    private static func text(_ duration: Duration) -> String { "\(max(1, duration.components.seconds))s" }
}
