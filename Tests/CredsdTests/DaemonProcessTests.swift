import CredsClient
import CredsCrypto
import CredsProtocol
import Foundation
import Testing

@Suite("the daemon process: sockets, files, signals, keys")
struct DaemonProcessTests {
    private func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    @Test("sockets get their modes, the data directory is 0700 and store files 0600")
    func fileModes() throws {
        let daemon = try DaemonFixture(mode: .process)
        #expect(mode(daemon.resolveSocket) == 0o660)
        #expect(mode(daemon.adminSocket) == 0o600)
        #expect(mode(daemon.dataDir) == 0o700)
        #expect(mode(daemon.dataDir + "/data.mdb") == 0o600)
        #expect(mode(daemon.dataDir + "/lock.mdb") == 0o600)
    }

    @Test("configured socket modes are applied")
    func configuredModes() throws {
        let daemon = try DaemonFixture(mode: .process)
        daemon.stop()
        let toml = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
            .replacingOccurrences(of: "[sockets]\n", with: "[sockets]\nresolveMode = \"0666\"\nadminMode = \"0640\"\n")
        try toml.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        try daemon.start()
        #expect(mode(daemon.resolveSocket) == 0o666)
        #expect(mode(daemon.adminSocket) == 0o640)
    }

    @Test("SIGTERM exits 0 and removes the socket files; a stale socket file is replaced at start")
    func stopAndStaleSocket() throws {
        let daemon = try DaemonFixture(mode: .process)
        #expect(daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.adminSocket))
        #expect(daemon.daemonLog.contains("credsd listening"))
        #expect(daemon.daemonLog.contains(daemon.resolveSocket))
        #expect(daemon.daemonLog.contains(daemon.adminSocket))

        // Leave a socket file behind as a crash would, then start again.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(daemon.adminSocket.utf8)
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(fd)
        #expect(FileManager.default.fileExists(atPath: daemon.adminSocket))
        try daemon.start()
        #expect(try daemon.adminCall("health")["status"] == "ok")
    }

    @Test("a second daemon on live sockets, or a non-socket file at the path, stops startup")
    func refusesBadSocketPaths() throws {
        let daemon = try DaemonFixture(mode: .process)
        let second = try ProcessResult.run(
            Binaries.credsd, ["serve", "--config", daemon.configPath, "--data-dir", daemon.directory.file("data2")])
        #expect(second.status != 0)
        #expect(second.stderr.contains("another process is listening"))
        #expect(try daemon.adminCall("health")["status"] == "ok")

        let plain = daemon.directory.write("plain-file", "not a socket")
        let third = try ProcessResult.run(
            Binaries.credsd,
            [
                "serve", "--config", daemon.configPath, "--data-dir", daemon.directory.file("data3"),
                "--resolve-socket", plain,
                "--admin-socket", daemon.directory.file("a3.sock"),
            ]
        )
        #expect(third.status != 0)
        #expect(third.stderr.contains("is not a socket"))
        #expect(FileManager.default.fileExists(atPath: plain))
    }

    @Test("startup stops on a bad config or key file, naming the key and never the key's bytes")
    func startupErrors() throws {
        let directory = TemporaryDirectory()
        let unknown = directory.write("unknown.toml", "[sockets]\nresolv = \"/tmp/x\"\n")
        var result = try ProcessResult.run(Binaries.credsd, ["serve", "--config", unknown])
        #expect(result.status != 0)
        #expect(result.stderr.contains("sockets.resolv"))

        let badMode = directory.write("mode.toml", "[sockets]\nadminMode = \"0999\"\n")
        result = try ProcessResult.run(Binaries.credsd, ["serve", "--config", badMode])
        #expect(result.status != 0)
        #expect(result.stderr.contains("sockets.adminMode"))

        let shortKey = directory.write("short.key", "c2hvcnQta2V5LXNlY3JldA==\n")
        result = try ProcessResult.run(
            Binaries.credsd,
            [
                "serve", "--data-dir", directory.file("d"), "--resolve-socket", directory.file("r.sock"),
                "--admin-socket", directory.file("a.sock"), "--key-file", shortKey,
            ]
        )
        #expect(result.status != 0)
        #expect(result.stderr.contains("encryption.keyFiles"))
        #expect(!result.stderr.contains("c2hvcnQta2V5LXNlY3JldA"))

        result = try ProcessResult.run(
            Binaries.credsd,
            [
                "serve", "--data-dir", directory.file("d"), "--resolve-socket", directory.file("r.sock"),
                "--admin-socket", directory.file("a.sock"), "--key-file", directory.file("missing.key"),
            ]
        )
        #expect(result.status != 0)
        #expect(result.stderr.contains("missing.key"))
    }

    @Test("keygen prints a 32-byte base64 key and never overwrites a file")
    func keygen() throws {
        let printed = try ProcessResult.run(Binaries.credsd, ["keygen"])
        #expect(printed.status == 0)
        let line = printed.stdout.trimmingCharacters(in: .newlines)
        #expect(Data(base64Encoded: line)?.count == 32)
        #expect(printed.stdout.filter { $0 == "\n" }.count == 1)

        let directory = TemporaryDirectory()
        let path = directory.file("new.key")
        #expect(try ProcessResult.run(Binaries.credsd, ["keygen", "--out", path]).status == 0)
        #expect(mode(path) == 0o600)
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Data(base64Encoded: written.trimmingCharacters(in: .newlines))?.count == 32)
        #expect(try ProcessResult.run(Binaries.credsd, ["keygen", "--out", path]).status != 0)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == written)
    }

    @Test("a key from $CREDENTIALS_DIRECTORY is used when keyFiles is absent")
    func credentialsDirectory() throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.file("creds"), withIntermediateDirectories: true)
        let key = MasterKey.generate()
        directory.write("creds/master.key", key.base64Text() + "\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.credsd)
        process.arguments = [
            "serve", "--data-dir", directory.file("d"), "--resolve-socket", directory.file("r.sock"),
            "--admin-socket", directory.file("a.sock"),
        ]
        process.environment = ["CREDENTIALS_DIRECTORY": directory.file("creds")]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            _ = ChildExit.wait(process)
        }
        var health: JSONValue?
        for _ in 0..<200 where health == nil {
            health = try? CredsClient(socketPath: directory.file("a.sock")).call("health")
            usleep(20_000)
        }
        #expect(health?["encryption"] == "configured")
        #expect(health?["activeKeyId"] == .string(key.id))
    }
}
