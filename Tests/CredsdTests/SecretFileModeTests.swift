import CredsProtocol
import Foundation
import Testing

/// SPEC 7: a secret file others may read stops startup naming the file; group-readable is a warning in the log and
/// in `health.problems`; files credsd writes are created with their final mode.
@Suite("secret files: modes checked on read, final mode on creation")
struct SecretFileModeTests {
    /// Every kind of secret file credsd reads, with the configuration key that names it.
    enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case masterKey = "encryption.keyFiles"
        case builtinKey = "builtin.gemini"
        case googleClientSecret = "oauth.google-workspace.clientSecretFile"
        case githubClientSecret = "oauth.github.clientSecretFile"
        case githubAppKey = "oauth.github.privateKeyFile"

        var testDescription: String { rawValue }
    }

    /// A running daemon that reads all five kinds, and the path of each.
    final class Setup {
        let provider: FakeOAuthProvider
        let daemon: DaemonFixture

        init(mode: DaemonFixture.Mode = .inProcess) throws {
            provider = try FakeOAuthProvider()
            daemon = try DaemonFixture(
                mode: mode, configExtra: provider.configSections(), builtin: ["gemini": "AIzaModeTestPlatformKey0001"])
        }

        func path(_ kind: Kind) -> String {
            switch kind {
            case .masterKey: daemon.keyFiles[0]
            case .builtinKey: daemon.directory.file("builtin-gemini.key")
            case .googleClientSecret: provider.secretFiles.file("google-client-secret")
            case .githubClientSecret: provider.secretFiles.file("github-client-secret")
            case .githubAppKey: provider.secretFiles.file("github-app.pem")
            }
        }

        func checkConfig() throws -> ProcessResult {
            try ProcessResult.run(Binaries.credsd, ["check-config", "--config", daemon.configPath])
        }
    }

    @Test("a secret file others may read stops startup and check-config, naming the file", arguments: Kind.allCases)
    func othersReadableStops(kind: Kind) throws {
        // A process: startup stops with exit status 1 and the message on stderr.
        let setup = try Setup(mode: .process)
        let daemon = setup.daemon
        #expect(daemon.stop() == 0)
        let path = setup.path(kind)
        #expect(chmod(path, 0o644) == 0)
        var log = ""
        do {
            try daemon.start()
            Issue.record("credsd started with \(path) at mode 0644")
            return
        } catch FixtureError.didNotStart(let text) {
            log = text
        }
        daemon.process?.waitUntilExit()
        #expect(daemon.process?.terminationStatus == 1)
        #expect(log.contains("Error: \(kind.rawValue): \(path): readable or writable by others (mode 0644)"), "\(log)")
        for secret in daemon.secrets { #expect(!log.contains(secret)) }

        let check = try setup.checkConfig()
        #expect(check.status == 1)
        #expect(
            check.stderr.contains("error: \(kind.rawValue): \(path): readable or writable by others"), "\(check.stderr)"
        )

        // The same file at 0600 starts: the mode was the only thing wrong.
        #expect(chmod(path, 0o600) == 0)
        try daemon.start()
        #expect(try daemon.adminCall("health")["problems"] == [])
    }

    @Test(
        "a secret file its group may read starts with a warning in the log, health.problems and check-config",
        arguments: Kind.allCases)
    func groupReadableWarns(kind: Kind) throws {
        let setup = try Setup()
        let daemon = setup.daemon
        let path = setup.path(kind)
        #expect(try daemon.adminCall("health")["problems"] == [])
        #expect(!daemon.daemonLog.contains("secret file is accessible to its group"))
        #expect(daemon.stop() == 0)
        #expect(chmod(path, 0o640) == 0)
        try daemon.start()

        let health = try daemon.adminCall("health")
        #expect(health["status"] == "ok")
        let problems = health["problems"]?.arrayValue ?? []
        #expect(problems.count == 1)
        let problem = problems.first?.stringValue ?? ""
        #expect(problem.contains(path) && problem.contains(kind.rawValue) && problem.contains("0640"), "\(problem)")
        #expect(daemon.waitForLog("secret file is accessible to its group"))
        #expect(daemon.daemonLog.contains("file.path=\(path)"))
        #expect(daemon.daemonLog.contains("file.mode=0640"))
        for secret in daemon.secrets { #expect(!daemon.daemonLog.contains(secret)) }

        let check = try setup.checkConfig()
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stderr.contains("warning: secret file \(path) (\(kind.rawValue))"), "\(check.stderr)")
    }

    // What a reload does with file modes; ReloadTests and AllowlistReloadTests send SIGHUP to a process.
    @Test("SIGHUP with a key file others may read is refused and keeps the running keys; at 0600 it applies")
    func reloadRefusesOthersReadable() throws {
        let daemon = try DaemonFixture()
        let oldId = try daemon.adminCall("health")["activeKeyId"]!.stringValue!
        let newKey = daemon.makeKey(named: "second.key")
        #expect(chmod(newKey, 0o604) == 0)
        daemon.setKeys([newKey, daemon.keyFiles[0]])
        daemon.reload()
        #expect(daemon.waitForLog("configuration reload refused"))
        #expect(daemon.daemonLog.contains("\(newKey): readable or writable by others (mode 0604)"))
        #expect(try daemon.adminCall("health")["activeKeyId"] == .string(oldId))
        #expect(try daemon.adminCall("keys.status")["keys"]?.arrayValue?.count == 1)

        #expect(chmod(newKey, 0o600) == 0)
        daemon.reload()
        #expect(daemon.waitForLog("configuration reloaded"))
        #expect(try daemon.adminCall("health")["activeKeyId"] != .string(oldId))
        for secret in daemon.secrets { #expect(!daemon.daemonLog.contains(secret)) }
    }

    @Test("SIGHUP reads the secret files' modes again: health.problems follows a file made group-readable, then fixed")
    func reloadRefreshesWarnings() throws {
        let daemon = try DaemonFixture()
        let key = daemon.keyFiles[0]
        #expect(try daemon.adminCall("health")["problems"]?.arrayValue?.isEmpty ?? true)
        #expect(chmod(key, 0o640) == 0)
        daemon.reload()
        #expect(daemon.waitForLog("configuration reloaded"))
        let problems = try daemon.adminCall("health")["problems"]?.arrayValue ?? []
        #expect(problems.contains { $0.stringValue?.contains(key) == true }, "\(problems)")
        #expect(chmod(key, 0o600) == 0)
        let reloads = daemon.daemonLog.components(separatedBy: "configuration reloaded").count
        daemon.reload()
        for _ in 0..<500 where daemon.daemonLog.components(separatedBy: "configuration reloaded").count == reloads {
            usleep(10_000)
        }
        #expect(try daemon.adminCall("health")["problems"]?.arrayValue?.isEmpty ?? true)
    }

    // MARK: - Files credsd and credsctl create

    @Test(
        "credsd keygen --out creates its file 0600 under any umask, without a later chmod", arguments: ["0000", "0277"])
    func keygenFinalMode(umask: String) throws {
        let directory = TemporaryDirectory()
        let out = directory.file("master.key")
        let events = try DirectoryEvents(watching: directory.path)
        let result = try Self.run(umask: umask, Binaries.credsd, ["keygen", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.mode(out) == 0o600)
        let seen = events.read()
        #expect(seen.contains { $0.name == "master.key" && $0.isCreate }, "\(seen)")
        #expect(!seen.contains { $0.name == "master.key" && ($0.isAttributeChange || $0.isMovedIn) }, "\(seen)")
        // An existing file is never replaced.
        let again = try Self.run(umask: umask, Binaries.credsd, ["keygen", "--out", out])
        #expect(again.status != 0)
    }

    @Test(
        "credsctl grants issue --out creates its file 0600 under any umask, without a later chmod or rename",
        arguments: ["0000", "0277"])
    func grantFileFinalMode(umask: String) throws {
        let daemon = try DaemonFixture()
        let directory = TemporaryDirectory()
        let out = directory.file("grant")
        let events = try DirectoryEvents(watching: directory.path)
        let result = try Self.run(
            umask: umask, Binaries.credsctl,
            ["grants", "issue", "--socket", daemon.adminSocket, "--workspace", "ws1", "--out", out]
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.mode(out) == 0o600)
        #expect((try? String(contentsOfFile: out, encoding: .utf8))?.hasPrefix("cg_") == true)
        let seen = events.read()
        #expect(seen.contains { $0.name == "grant" && $0.isCreate }, "\(seen)")
        #expect(!seen.contains { $0.isAttributeChange || $0.isMovedIn }, "\(seen)")
        let again = try Self.run(
            umask: umask, Binaries.credsctl,
            ["grants", "issue", "--socket", daemon.adminSocket, "--workspace", "ws1", "--out", out]
        )
        #expect(again.status != 0)
    }

    @Test(
        "credsd backup creates its directory 0700 and data.mdb 0600 under any umask, without a later chmod",
        arguments: ["0000", "0277"])
    func backupFinalMode(umask: String) throws {
        let daemon = try DaemonFixture()
        try daemon.addWriter()
        let directory = TemporaryDirectory()
        // A directory credsd creates itself ...
        let fresh = directory.file("fresh")
        var result = try Self.run(
            umask: umask, Binaries.credsd, ["backup", "--data-dir", daemon.dataDir, "--out", fresh])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.mode(fresh) == 0o700)
        #expect(Self.mode(fresh + "/data.mdb") == 0o600)
        // ... and an empty one that exists, watched while data.mdb appears in it.
        let given = directory.file("given")
        #expect(mkdir(given, 0o700) == 0)
        let events = try DirectoryEvents(watching: given)
        result = try Self.run(umask: umask, Binaries.credsd, ["backup", "--data-dir", daemon.dataDir, "--out", given])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.mode(given + "/data.mdb") == 0o600)
        let seen = events.read()
        #expect(seen.contains { $0.name == "data.mdb" && $0.isCreate }, "\(seen)")
        #expect(!seen.contains { $0.name == "data.mdb" && ($0.isAttributeChange || $0.isMovedIn) }, "\(seen)")
    }

    /// Runs `executable` under `umask` (set by a shell that then execs it, so the test process keeps its own).
    private static func run(umask: String, _ executable: String, _ arguments: [String]) throws -> ProcessResult {
        try ProcessResult.run("/bin/sh", ["-c", "umask \(umask) && exec \"$0\" \"$@\"", executable] + arguments)
    }

    private static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }
}

/// inotify on one directory: what was created, changed in attributes (chmod) or renamed into it.
final class DirectoryEvents {
    struct Event: CustomStringConvertible {
        let name: String
        let mask: UInt32
        var isCreate: Bool { mask & UInt32(IN_CREATE) != 0 }
        var isAttributeChange: Bool { mask & UInt32(IN_ATTRIB) != 0 }
        var isMovedIn: Bool { mask & UInt32(IN_MOVED_TO) != 0 }
        var description: String { "\(name):0x\(String(mask, radix: 16))" }
    }

    private let fd: Int32

    init(watching directory: String) throws {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0, inotify_add_watch(fd, directory, UInt32(IN_CREATE | IN_ATTRIB | IN_MOVED_TO)) >= 0 else {
            throw FixtureError.didNotStart(log: "inotify on \(directory): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Every event so far (the command has exited, so all of them are queued).
    func read() -> [Event] {
        var events: [Event] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return events }
            var offset = 0
            while offset < count {
                let (mask, length) = buffer.withUnsafeBytes { raw in
                    (
                        raw.load(fromByteOffset: offset + 4, as: UInt32.self),
                        Int(raw.load(fromByteOffset: offset + 12, as: UInt32.self))
                    )
                }
                let nameBytes = buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }
                events.append(Event(name: String(decoding: nameBytes, as: UTF8.self), mask: mask))
                offset += 16 + length
            }
        }
    }
}
