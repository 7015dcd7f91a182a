@testable import CredsCluster
import CredsCore
import CredsCrypto
import CredsProtocol
import Logging
import PostgresNIO
import Synchronization
import Testing

/// The cluster's change feed on a real PostgreSQL: numbers that follow commit order with no hole, under
/// concurrent writers and readers catching up by cursor.
@Suite("cluster change feed against a real PostgreSQL")
struct ChangeFeedTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A migrated server and a database handle on it.
    static func cluster() async throws -> (PostgresServer, ClusterDatabase) {
        let server = try PostgresServer()
        let config = try DaemonConfig.parse(
            toml: "[cluster]\npostgres = \"\(server.url)\"\npasswordFile = \"\(server.passwordFile)\"\nhostId = \"h1\"")
        let password = try SecretsLoader(config: config, credentialsDirectory: nil).loadClusterPassword()
        let database = ClusterDatabase(config: try #require(config.cluster), password: password, logger: logger)
        _ = try await database.withConnection { connection in
            try await SchemaMigrator(hostId: Identifier(stored: "h1"), logger: logger).migrate(connection)
        }
        return (server, database)
    }

    @Test("a statement written after its connection closed is never answered: deadlines give it up, no ROLLBACK goes")
    func closedConnection() async throws {
        let (server, database) = try await Self.cluster()
        defer { withExtendedLifetime(server) {} }
        let connection = try await database.connect()
        try await connection.close()
        // What the replica's deadlines are for: PostgresNIO drops the statement and never answers it.
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(500), "a statement on a closed connection") {
                try await connection.query("SELECT 1", logger: Self.logger)
            }
        }
        // A failure's ROLLBACK (every catch in CredsCluster) is not sent on it, so nothing waits.
        let ended = try? await withDeadline(.seconds(30), "rollBackQuietly on a closed connection") {
            await connection.rollBackQuietly(logger: Self.logger)
            return true
        }
        #expect(ended == true)
    }

    @Test("4 writers (some rolling back) and 3 readers by cursor: every committed change read once, in a dense order")
    func concurrentWritersAndReaders() async throws {
        let (server, database) = try await Self.cluster()
        let feed = ChangeFeed(hostId: "h1", logger: Self.logger)
        let writers = 4
        let transactions = 60
        let committed = Shared<[String]>([])
        let writing = Shared<Int>(writers)
        let seen = Shared<[[Int64]]>(Array(repeating: [], count: 3))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    defer { writing.withLock { $0 -= 1 } }
                    try await database.withConnection { connection in
                        for index in 0..<transactions {
                            let workspace = "w\(writer)"
                            let count = 1 + index % 3
                            try await connection.query("BEGIN", logger: Self.logger)
                            let changes = (0..<count).map { part in
                                FeedChange(
                                    entity: .member, workspaceId: workspace,
                                    key: Array("\(writer).\(index).\(part)".utf8),
                                    version: Int64(index + 1), operation: .put)
                            }
                            _ = try await feed.record(changes, on: connection)
                            if index % 7 == 3 {
                                // A rollback gives its numbers back: nobody may ever see them, and nothing is skipped.
                                try await connection.query("ROLLBACK", logger: Self.logger)
                            } else {
                                try await connection.query("COMMIT", logger: Self.logger)
                                committed.withLock { $0 += changes.map { String(decoding: $0.key, as: UTF8.self) } }
                            }
                        }
                    }
                }
            }
            for reader in 0..<3 {
                group.addTask {
                    try await database.withConnection { connection in
                        var cursor: Int64 = 0
                        while true {
                            let done = writing.withLock { $0 == 0 }
                            let page = try await feed.read(after: cursor, limit: 17, on: connection)
                            for entry in page.entries {
                                #expect(entry.seq == cursor + 1)
                                cursor = entry.seq
                            }
                            seen.withLock { $0[reader] += page.entries.map(\.seq) }
                            if done && cursor == page.head { return }
                            if page.entries.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = committed.withLock { $0.count }
        #expect(total > 0)
        for reader in seen.withLock({ $0 }) {
            #expect(reader == Array(1...Int64(total)), "a reader saw \(reader.count) of \(total), or out of order")
        }
        // The feed holds exactly the committed changes, nothing of the rolled-back ones.
        let recorded = try await database.withConnection { connection in
            try await feed.read(after: 0, limit: 10_000, on: connection)
        }
        let keys = recorded.entries.map { String(decoding: $0.change.key, as: UTF8.self) }
        #expect(keys.sorted() == committed.withLock { $0 }.sorted())
        _ = server
    }

    @Test("a missing number is a FeedHole, never skipped; the epoch is the one init made")
    func holeIsReported() async throws {
        let (server, database) = try await Self.cluster()
        let feed = ChangeFeed(hostId: "h1", logger: Self.logger)
        let change = FeedChange(entity: .grant, workspaceId: "w", key: [1, 2, 3], version: 1, operation: .delete)
        for _ in 0..<3 {
            try await database.withConnection { connection in
                try await connection.query("BEGIN", logger: Self.logger)
                _ = try await feed.record([change], on: connection)
                try await connection.query("COMMIT", logger: Self.logger)
            }
        }
        let epoch = try server.psql("SELECT epoch FROM credsd_feed_head")
        let page = try await database.withConnection { try await feed.read(after: 0, limit: 10, on: $0) }
        #expect(page.entries.map(\.seq) == [1, 2, 3] && page.head == 3)
        #expect(page.epoch.uuidString.lowercased() == epoch)
        #expect(page.entries.first?.change == change && page.entries.first?.hostId == "h1")
        // Someone deletes change 2 (a bad restore, a hand edit): reading from 1 must stop at the hole. (On a
        // connection of its own: `withConnection` turns every failure into a ClusterError.)
        let connection = try await database.connect()
        _ = try server.psql("DELETE FROM credsd_changes WHERE seq = 2")
        await #expect(throws: FeedHole(expected: 2, found: 3)) {
            try await feed.read(after: 1, limit: 10, on: connection)
        }
        // And a hole at the end (the last change gone while the head says 3) too.
        _ = try server.psql("DELETE FROM credsd_changes WHERE seq = 3")
        await #expect(throws: FeedHole(expected: 3, found: 3)) {
            try await feed.read(after: 2, limit: 10, on: connection)
        }
        // The connection is still usable after a refused read (the read's transaction was rolled back).
        #expect(try await feed.read(after: 0, limit: 1, on: connection).entries.map(\.seq) == [1])
        try await connection.close()
    }

    @Test("pruning keeps 7 days and the newest change; a replica behind what was pruned meets a hole and resyncs")
    func prune() async throws {
        let (server, database) = try await Self.cluster()
        let feed = ChangeFeed(hostId: "h1", logger: Self.logger)
        let connection = try await database.connect()
        for index in 1...5 {
            try await connection.query("BEGIN", logger: Self.logger)
            _ = try await feed.record(
                [FeedChange(entity: .member, workspaceId: "w", key: [UInt8(index)], version: 1, operation: .put)],
                on: connection)
            try await connection.query("COMMIT", logger: Self.logger)
        }
        // Changes 1-3 are eight days old; so is 5, the newest, which stays whatever its age.
        _ = try server.psql(
            "UPDATE credsd_changes SET committed_at = now() - interval '8 days' WHERE seq IN (1, 2, 3, 5)")
        #expect(try await feed.prune(on: connection) == 3)
        #expect(try server.psql("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM credsd_changes") == "4,5")
        await #expect(throws: FeedHole(expected: 1, found: 4)) {
            try await feed.read(after: 0, limit: 10, on: connection)
        }
        #expect(try await feed.read(after: 3, limit: 10, on: connection).entries.map(\.seq) == [4, 5])
        #expect(try await feed.prune(on: connection) == 0)
        try await connection.close()
    }
}

/// A value several tasks change, behind a lock.
private final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
    }

    func withLock<Result: Sendable>(_ body: (inout sending Value) -> sending Result) -> sending Result {
        value.withLock(body)
    }
}
