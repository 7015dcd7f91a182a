public import CredsProtocol
public import Logging
public import PostgresNIO

/// Brings the cluster schema to `ClusterSchema.currentVersion` in one transaction under an advisory lock, so hosts
/// running `credsd cluster init` at once apply each migration exactly once and the others find it done.
public struct SchemaMigrator: Sendable {
    /// The version before and after.
    public struct Outcome: Sendable, Equatable {
        public let from: Int
        public let to: Int

        public init(from: Int, to: Int) {
            self.from = from
            self.to = to
        }
    }

    public let hostId: Identifier
    public let logger: Logger

    public init(hostId: Identifier, logger: Logger) {
        self.hostId = hostId
        self.logger = logger
    }

    /// Applies the missing migrations; a schema newer than this build is refused and left alone.
    public func migrate(_ connection: PostgresConnection) async throws -> Outcome {
        try await connection.query("BEGIN", logger: logger)
        do {
            let outcome = try await migrateInTransaction(connection)
            try await connection.query("COMMIT", logger: logger)
            return outcome
        } catch {
            await connection.rollBackQuietly(logger: logger)
            throw error
        }
    }

    /// The schema's version, 0 when credsd never ran `init` on this database.
    public func currentVersion(_ connection: PostgresConnection) async throws -> Int {
        let exists = try await connection.query(
            "SELECT to_regclass('credsd_schema') IS NOT NULL", logger: logger)
        for try await present in exists.decode(Bool.self) where !present { return 0 }
        return try await maxVersion(connection)
    }

    private func migrateInTransaction(_ connection: PostgresConnection) async throws -> Outcome {
        // Held to COMMIT or ROLLBACK: a second host waits here, then sees the first one's version.
        try await connection.query("SELECT pg_advisory_xact_lock(\(ClusterSchema.migrationLockKey))", logger: logger)
        try await connection.query(PostgresQuery(unsafeSQL: ClusterSchema.versionTable), logger: logger)
        let from = try await maxVersion(connection)
        guard from <= ClusterSchema.currentVersion else {
            throw SchemaTooNew(found: from, known: ClusterSchema.currentVersion)
        }
        for migration in ClusterSchema.migrations where migration.version > from {
            for statement in migration.statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            let record: PostgresQuery = """
                INSERT INTO credsd_schema (version, name, applied_by)
                VALUES (\(migration.version), \(migration.name), \(hostId.text))
                """
            try await connection.query(record, logger: logger)
            logger.info(
                "cluster schema migrated",
                metadata: ["schema.version": "\(migration.version)", "schema.name": "\(migration.name)"])
        }
        return Outcome(from: from, to: max(from, ClusterSchema.currentVersion))
    }

    private func maxVersion(_ connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            "SELECT coalesce(max(version), 0)::int8 FROM credsd_schema", logger: logger)
        var version = 0
        for try await value in rows.decode(Int.self) { version = value }
        return version
    }
}

/// The database's schema is newer than this build: upgrade credsd before running `cluster init`.
public struct SchemaTooNew: Error, Sendable, CustomStringConvertible {
    public let found: Int
    public let known: Int

    public var description: String {
        "the schema is at version \(found), newer than this credsd knows (\(known)): upgrade credsd first"
    }
}
