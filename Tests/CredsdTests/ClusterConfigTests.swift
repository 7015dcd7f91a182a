import CredsCore
import CredsProtocol
import Foundation
import Testing

@Suite("[cluster] configuration")
struct ClusterConfigTests {
    @Test("the contract's example parses, and a file without [cluster] is a single host")
    func example() throws {
        let config = try DaemonConfig.parse(
            toml: """
                [cluster]
                postgres = "postgresql://credsd@db.internal:5432/credsd"
                passwordFile = "/etc/credsd/pg-password"
                hostId = "exec-17"
                pollSeconds = 5
                maxStalenessSeconds = 120
                """)
        let cluster = try #require(config.cluster)
        #expect(cluster.postgres.endpoint == .tcp(host: "db.internal", port: 5432))
        #expect(cluster.passwordFile == "/etc/credsd/pg-password")
        #expect(cluster.hostId == Identifier(validating: "exec-17"))
        #expect(cluster.pollSeconds == 5)
        #expect(cluster.maxStalenessSeconds == 120)
        #expect(try DaemonConfig.parse(toml: "").cluster == nil)
    }

    @Test("hostId defaults to the hostname, pollSeconds to 10, maxStalenessSeconds to 0, no password file")
    func defaults() throws {
        let config = try DaemonConfig.parse(toml: "[cluster]\npostgres = \"postgresql://c@/c?host=/run/postgresql\"")
        let cluster = try #require(config.cluster)
        #expect(cluster.hostId == ClusterConfig.hostname())
        #expect(cluster.pollSeconds == 10)
        #expect(cluster.maxStalenessSeconds == 0)
        #expect(cluster.passwordFile == nil)
    }

    @Test(
        "bad [cluster] values are refused naming the key",
        arguments: [
            ("[cluster]\nhostId = \"a\"", "cluster.postgres"),
            ("[cluster]\npostgres = \"postgresql://c@db/c\"\nuser = \"x\"", "cluster.user"),
            ("[cluster]\npostgres = \"postgresql://c:pw@db/c\"", "cluster.postgres"),
            ("[cluster]\npostgres = 5", "cluster.postgres"),
            ("[cluster]\npostgres = \"postgresql://c@db/c\"\nhostId = \"exec 17\"", "cluster.hostId"),
            ("[cluster]\npostgres = \"postgresql://c@db/c\"\npollSeconds = 0", "cluster.pollSeconds"),
            ("[cluster]\npostgres = \"postgresql://c@db/c\"\npollSeconds = 3601", "cluster.pollSeconds"),
            ("[cluster]\npostgres = \"postgresql://c@db/c\"\nmaxStalenessSeconds = -1", "cluster.maxStalenessSeconds"),
            (
                "[cluster]\npostgres = \"postgresql://c@db/c\"\nmaxStalenessSeconds = 9223372036854775807",
                "cluster.maxStalenessSeconds"
            ),
            ("[cluster]\npostgres = \"postgresql://c@db/c\"\npasswordFile = \"\"", "cluster.passwordFile"),
            (
                "[cluster]\npostgres = \"postgresql://c@db/c\"\npollSeconds = 10\nmaxStalenessSeconds = 10",
                "cluster.maxStalenessSeconds"
            ),
            ("cluster = 1", "cluster"),
        ])
    func refused(_ text: String, _ key: String) {
        let (_, problems) = DaemonConfig.check(toml: text)
        #expect(problems.first?.key == key, "\(problems)")
    }

    @Test("check-config prints [cluster] with the password as its path, and refuses a password file others can read")
    func checkConfig() throws {
        let directory = TemporaryDirectory()
        let secret = "pg-secret-\(UInt64.random(in: 0...UInt64.max))"
        let passwordFile = directory.write("pg-password", secret + "\n", mode: 0o600)
        let configFile = directory.write(
            "credsd.toml",
            """
            dataDir = "\(directory.file("data"))"
            [encryption]
            keyFiles = []
            [builtin]
            [cluster]
            postgres = "postgresql://credsd@/credsd?host=/run/postgresql"
            passwordFile = "\(passwordFile)"
            hostId = "exec-17"
            """)
        let good = try ProcessResult.run(Binaries.credsd, ["check-config", "--config", configFile])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("[cluster]"))
        #expect(good.stdout.contains("postgres = \"postgresql://credsd@/credsd?host=/run/postgresql\""))
        #expect(good.stdout.contains("passwordFile = \"\(passwordFile)\""))
        #expect(good.stdout.contains("hostId = \"exec-17\""))
        #expect(good.stdout.contains("pollSeconds = 10"))
        #expect(!(good.stdout + good.stderr).contains(secret))

        chmod(passwordFile, 0o644)
        let open = try ProcessResult.run(Binaries.credsd, ["check-config", "--config", configFile])
        #expect(open.status == 1)
        #expect(open.stderr.contains("cluster.passwordFile"))
        #expect(open.stderr.contains("readable or writable by others"))
        #expect(!(open.stdout + open.stderr).contains(secret))
    }

    @Test("a new host whose database cannot be reached does not listen before its first sync; SIGTERM stops it")
    func newHostWaitsForItsFirstSync() throws {
        let directory = TemporaryDirectory()
        let configFile = directory.write(
            "credsd.toml",
            "[cluster]\npostgres = \"postgresql://credsd@/credsd?host=\(directory.file("no-server"))\"\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.credsd)
        process.arguments = [
            "serve", "--config", configFile, "--data-dir", directory.file("data"), "--resolve-socket",
            directory.file("r.sock"), "--admin-socket", directory.file("a.sock"),
        ]
        let output = Pipe()
        process.standardError = output
        process.standardOutput = output
        try process.run()
        usleep(1_500_000)
        #expect(process.isRunning)
        #expect(!FileManager.default.fileExists(atPath: directory.file("r.sock")))
        process.terminate()
        #expect(ChildExit.wait(process) == 0)
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("waiting for the cluster database before listening"), "\(log)")
        #expect(log.contains("cluster database unreachable"), "\(log)")
    }

    @Test("a SIGHUP reload that adds [cluster] keeps the running single host and says a restart is needed")
    func reloadAddingCluster() throws {
        let daemon = try DaemonFixture()
        let toml = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        try (toml + "\n[cluster]\npostgres = \"postgresql://credsd@/credsd?host=/run/postgresql\"\n").write(
            toFile: daemon.configPath, atomically: true, encoding: .utf8)
        daemon.reload()
        #expect(daemon.waitForLog("configuration reloaded"))
        #expect(daemon.daemonLog.contains("restart.needed=cluster"), "\(daemon.daemonLog)")
        #expect(try daemon.adminCall("health")["status"] == "ok")
    }
}
