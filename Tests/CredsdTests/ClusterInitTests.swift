import CredsCluster
import CredsCore
import Foundation
import Logging
import PostgresNIO
import Testing

/// `credsd cluster init` and `ClusterDatabase` against a real PostgreSQL started for each test.
@Suite("cluster init against a real PostgreSQL")
struct ClusterInitTests {
    /// A configuration file for `server`'s credsd database, with `password` (default: the right one) in a file.
    private static func configFile(
        _ directory: TemporaryDirectory, url: String, passwordFile: String?, hostId: String = "host-a"
    ) -> String {
        directory.write(
            "credsd-\(hostId).toml",
            """
            [cluster]
            postgres = "\(url)"
            \(passwordFile.map { "passwordFile = \"\($0)\"" } ?? "")
            hostId = "\(hostId)"
            """)
    }

    @Test("init on an empty database creates the current version and its tables; a second init changes nothing")
    func initTwice() throws {
        let server = try PostgresServer()
        let directory = TemporaryDirectory()
        let config = Self.configFile(directory, url: server.url, passwordFile: server.passwordFile)

        let first = try ProcessResult.run(Binaries.credsd, ["cluster", "init", "--config", config])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("migrated from version 0 to \(ClusterSchema.currentVersion)"))
        #expect(
            try server.psql("SELECT string_agg(version || ' ' || applied_by, ',' ORDER BY version) FROM credsd_schema")
                == "1 host-a,2 host-a,3 host-a,4 host-a,5 host-a,6 host-a")
        let tables = try server.psql(
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'credsd_%'")
        #expect(
            tables
                == "credsd_audit,credsd_audit_heads,credsd_changes,credsd_feed_head,credsd_records,"
                + "credsd_refresh_leases,credsd_schema,credsd_usage,credsd_webhook_ids")
        #expect(try server.psql("SELECT seq FROM credsd_feed_head WHERE id = 1") == "0")
        #expect(try server.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'credsd_changes'") == "credsd")
        let before = try server.psql("SELECT epoch FROM credsd_feed_head")

        let second = try ProcessResult.run(Binaries.credsd, ["cluster", "init", "--config", config])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("at version \(ClusterSchema.currentVersion): already current"))
        #expect(try server.psql("SELECT count(*) FROM credsd_schema") == "6")
        #expect(try server.psql("SELECT epoch FROM credsd_feed_head") == before)
        #expect(!(first.stdout + first.stderr + second.stdout + second.stderr).contains(server.password))

        let future = ClusterSchema.currentVersion + 1
        try server.psql(
            "INSERT INTO credsd_schema (version, name, applied_by) VALUES (\(future), 'from the future', 'x')")
        let newer = try ProcessResult.run(Binaries.credsd, ["cluster", "init", "--config", config])
        #expect(newer.status == 1)
        #expect(
            newer.stderr.contains(
                "schema is at version \(future), newer than this credsd knows (\(ClusterSchema.currentVersion))"),
            "\(newer.stderr)")
        #expect(try server.psql("SELECT count(*) FROM credsd_schema") == "\(ClusterSchema.currentVersion + 1)")
    }

    @Test("four hosts running init at once all exit 0 and leave one row per version")
    func concurrentInit() throws {
        let server = try PostgresServer()
        let directory = TemporaryDirectory()
        let hosts = ["host-1", "host-2", "host-3", "host-4"]
        let configs = hosts.map {
            Self.configFile(directory, url: server.url, passwordFile: server.passwordFile, hostId: $0)
        }
        let results = try runAtOnce(configs.map { ["cluster", "init", "--config", $0] })
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        #expect(
            results.filter { $0.stdout.contains("migrated from version 0 to \(ClusterSchema.currentVersion)") }.count
                == 1)
        #expect(results.filter { $0.stdout.contains("already current") }.count == 3)
        #expect(try server.psql("SELECT count(*) || ' ' || max(version) FROM credsd_schema") == "6 6")
        #expect(try server.psql("SELECT count(*) FROM credsd_feed_head") == "1")
    }

    @Test("init against a database it cannot reach exits 1 naming the URL, never the password")
    func unreachable() throws {
        let directory = TemporaryDirectory()
        let secret = "pw-\(UInt64.random(in: 0...UInt64.max))"
        let passwordFile = directory.write("pg-password", secret, mode: 0o600)
        let socketURL = "postgresql://credsd@/credsd?host=\(directory.file("nowhere"))"
        let tcpURL = "postgresql://credsd@127.0.0.1:1/credsd?sslmode=disable"
        for url in [socketURL, tcpURL] {
            let config = Self.configFile(directory, url: url, passwordFile: passwordFile)
            let result = try ProcessResult.run(Binaries.credsd, ["cluster", "init", "--config", config])
            #expect(result.status == 1)
            #expect(result.stderr.contains(url), "\(result.stderr)")
            #expect(result.stderr.contains("cannot connect"), "\(result.stderr)")
            #expect(!(result.stdout + result.stderr).contains(secret))
        }
    }

    @Test("a wrong password, or none, is a clear authentication error")
    func wrongPassword() throws {
        let server = try PostgresServer()
        let directory = TemporaryDirectory()
        let wrong = "wrong-\(UInt64.random(in: 0...UInt64.max))"
        let wrongFile = directory.write("wrong-password", wrong, mode: 0o600)
        let config = Self.configFile(directory, url: server.url, passwordFile: wrongFile)
        let result = try ProcessResult.run(Binaries.credsd, ["cluster", "init", "--config", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains(server.url))
        #expect(result.stderr.contains("password authentication failed for user \"credsd\""), "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains(wrong))
        #expect(!(result.stdout + result.stderr).contains(server.password))

        let none = Self.configFile(directory, url: server.url, passwordFile: nil, hostId: "host-b")
        let missing = try ProcessResult.run(Binaries.credsd, ["cluster", "init", "--config", none])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("set [cluster] passwordFile"), "\(missing.stderr)")
        #expect(try server.psql("SELECT to_regclass('credsd_schema') IS NULL") == "t")
    }

    @Test("ClusterDatabase connects over the socket with the password file; the migrator reports versions")
    func inProcess() async throws {
        let server = try PostgresServer()
        let config = try DaemonConfig.parse(
            toml: "[cluster]\npostgres = \"\(server.url)\"\npasswordFile = \"\(server.passwordFile)\"\nhostId = \"h1\"")
        let loader = SecretsLoader(config: config, credentialsDirectory: nil)
        let cluster = try #require(config.cluster)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let database = ClusterDatabase(config: cluster, password: try loader.loadClusterPassword(), logger: logger)
        let migrator = SchemaMigrator(hostId: cluster.hostId, logger: logger)
        let (user, before, outcome, after) = try await database.withConnection { connection in
            var user = ""
            let rows = try await connection.query(
                "SELECT current_user::text || ' ' || current_setting('application_name')", logger: logger)
            for try await name in rows.decode(String.self) { user = name }
            let before = try await migrator.currentVersion(connection)
            let outcome = try await migrator.migrate(connection)
            return (user, before, outcome, try await migrator.currentVersion(connection))
        }
        #expect(user == "credsd credsd-h1")
        #expect(before == 0)
        #expect(outcome == SchemaMigrator.Outcome(from: 0, to: ClusterSchema.currentVersion))
        #expect(after == ClusterSchema.currentVersion)
    }
}

/// Starts every command before waiting for any, so they race; returns their results in order.
private func runAtOnce(_ commands: [[String]]) throws -> [ProcessResult] {
    var running: [(Process, Pipe, Pipe)] = []
    for arguments in commands {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.credsd)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        running.append((process, out, err))
    }
    return running.map { process, out, err in
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return ProcessResult(status: ChildExit.wait(process), stdout: stdout, stderr: stderr)
    }
}
