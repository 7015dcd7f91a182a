import CredsClient
import CredsCore
import CredsCrypto
import CredsProtocol
import CredsTesting
import Foundation
import Logging
import Testing

/// A real daemon on temporary sockets with a temporary data directory: in this process by default
/// (`InProcessDaemon`, as `credsd serve` assembles it), or a `credsd serve` process.
final class DaemonFixture: @unchecked Sendable {
    /// Where the daemon runs.
    enum Mode {
        /// In the test process: for what the daemon answers, stores, logs and audits.
        case inProcess
        /// A `credsd serve` process: for signals, crashes, systemd, the process's memory, descriptors, limits and
        /// CPU, its metrics, and anything else only a process has.
        case process
    }

    let mode: Mode
    let directory: TemporaryDirectory
    let resolveSocket: String
    let adminSocket: String
    let dataDir: String
    let configPath: String
    private(set) var process: Process?
    private var inProcess: InProcessDaemon?
    /// Every secret the fixture created, for leak checks.
    private(set) var secrets: [String] = []

    /// Master key files, first seals; rewritten into the config by `setKeys`.
    private(set) var keyFiles: [String] = []
    private var builtinLines: String
    private let socketsExtra: String
    private let configExtra: String

    /// Starts a daemon. `withKey: false` starts it without a master key; `socketsExtra` goes under
    /// `[sockets]`, `configExtra` at the end of the TOML; `dataDirectory` replaces the temporary one; `keyFile` is
    /// a master key file to use instead of a new one (cluster hosts share their key ring). A `launcher`,
    /// an `environment` or `activatedSockets` need `mode: .process`.
    init(
        mode: Mode = .inProcess,
        withKey: Bool = true,
        configExtra: String = "",
        socketsExtra: String = "",
        builtin: [String: String] = [:],
        builtinPools: [String: [String]] = [:],
        logLevel: String = "info",
        launcher: [String] = [],
        environment: [String: String] = [:],
        activatedSockets: (resolve: String, admin: String)? = nil,
        dataDirectory: String? = nil,
        keyFile: String? = nil
    ) throws {
        precondition(
            mode == .process || (launcher.isEmpty && environment.isEmpty && activatedSockets == nil),
            "a launcher, an environment or activated sockets need a credsd process (mode: .process)")
        self.mode = mode
        self.launcher = launcher
        self.environment = environment
        directory = TemporaryDirectory()
        resolveSocket = activatedSockets?.resolve ?? directory.file("resolve.sock")
        adminSocket = activatedSockets?.admin ?? directory.file("admin.sock")
        dataDir = dataDirectory ?? directory.file("data")
        configPath = directory.file("credsd.toml")
        self.logLevel = logLevel
        self.socketsExtra = socketsExtra
        self.configExtra = configExtra
        var lines = ""
        for (provider, key) in builtin.sorted(by: { $0.key < $1.key }) {
            lines += "\(provider) = \"\(directory.write("builtin-\(provider).key", key + "\n"))\"\n"
        }
        builtinLines = lines
        for key in builtin.values { secrets.append(key) }
        if !builtinPools.isEmpty { builtinLines += poolLines(builtinPools) }
        if let keyFile {
            keyFiles = [keyFile]
        } else if withKey {
            keyFiles = [makeKey(named: "master.key")]
        }
        writeConfig()
        try start()
    }

    private let logLevel: String
    /// A command the daemon is started through (e.g. systemd-socket-activate), or empty.
    private let launcher: [String]
    private let environment: [String: String]

    /// Writes a new random master key file and returns its path.
    func makeKey(named name: String) -> String {
        let key = MasterKey.generate().base64Text()
        secrets.append(key)
        return directory.write(name, key + "\n")
    }

    /// Changes the configured key files; takes effect at the next start.
    func setKeys(_ files: [String]) {
        keyFiles = files
        writeConfig()
    }

    /// Replaces the `[builtin]` table with these pools (each key in its own file) and rewrites the configuration.
    func setBuiltinPools(_ pools: [String: [String]]) {
        builtinLines = poolLines(pools)
        writeConfig()
    }

    /// `provider = ["file", ...]` lines for pools, writing each key to a file named after its text's digest.
    private func poolLines(_ pools: [String: [String]]) -> String {
        var lines = ""
        for (provider, keys) in pools.sorted(by: { $0.key < $1.key }) {
            let files = keys.enumerated().map { index, key in
                secrets.append(key)
                return "\"" + directory.write("pool-\(provider)-\(abs(key.hashValue))-\(index).key", key + "\n") + "\""
            }
            lines += "\(provider) = [\(files.joined(separator: ", "))]\n"
        }
        return lines
    }

    private func writeConfig() {
        let keys = keyFiles.map { "\"\($0)\"" }.joined(separator: ", ")
        let toml = """
            dataDir = "\(dataDir)"

            [sockets]
            resolve = "\(resolveSocket)"
            admin = "\(adminSocket)"
            \(socketsExtra)

            [encryption]
            keyFiles = [\(keys)]

            [builtin]
            \(builtinLines)

            \(configExtra)
            """
        directory.write("credsd.toml", toml)
    }

    /// Starts (or restarts) the daemon and waits until both sockets accept.
    func start() throws {
        switch mode {
        case .inProcess: try startInProcess()
        case .process: try startProcess()
        }
    }

    private func startInProcess() throws {
        let daemon =
            inProcess ?? InProcessDaemon(configPath: configPath, logLevel: Logger.Level(rawValue: logLevel) ?? .info)
        inProcess = daemon
        do {
            try daemon.start()
        } catch {
            throw FixtureError.didNotStart(log: daemonLog + "Error: \(error)\n")
        }
    }

    private func startProcess() throws {
        let process = Process()
        let command = launcher + [Binaries.credsd, "serve", "--config", configPath, "--log-level", logLevel]
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "CREDENTIALS_DIRECTORY")
        env.merge(environment) { _, new in new }
        process.environment = env
        let logPath = directory.file("daemon.log")
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if (try? CredsClient(socketPath: adminSocket, timeoutSeconds: 1)) != nil,
                (try? CredsClient(socketPath: resolveSocket, timeoutSeconds: 1)) != nil
            {
                return
            }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        throw FixtureError.didNotStart(log: daemonLog)
    }

    /// Stops the daemon as SIGTERM does (a process gets SIGTERM) and returns its exit status: 0 after a clean
    /// stop; for an in-process daemon, 1 when its run ended with an error.
    @discardableResult
    func stop() -> Int32 {
        if mode == .inProcess {
            guard let inProcess, inProcess.isRunning else { return 0 }
            return (try? inProcess.stop()) == nil ? 1 : 0
        }
        guard let process, process.isRunning else { return process?.terminationStatus ?? 0 }
        process.terminate()
        let status = ChildExit.wait(process)
        self.process = nil
        return status
    }

    /// Kills the daemon process with SIGKILL, as a crash would.
    func kill9() {
        precondition(mode == .process, "kill -9 needs a credsd process (mode: .process)")
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        _ = ChildExit.wait(process)
        self.process = nil
    }

    /// The daemon process's id.
    var pid: Int32? {
        precondition(mode == .process, "a pid needs a credsd process (mode: .process)")
        return process?.processIdentifier
    }

    /// Reads the configuration file again and applies it: SIGHUP to a process, the reload SIGHUP triggers to an
    /// in-process daemon (which has applied it on return).
    func reload() {
        switch mode {
        case .inProcess: inProcess?.reload()
        case .process: if let pid { kill(pid, SIGHUP) }
        }
    }

    /// The in-process daemon's engine, for white-box checks.
    var engine: CredsEngine? { inProcess?.engine }

    func restart() throws {
        stop()
        try start()
    }

    deinit {
        if ProcessInfo.processInfo.environment["CREDSD_TEST_DUMP_LOG"] != nil { print(daemonLog) }
        // Before the temporary directory with its sockets and store goes.
        try? inProcess?.stop()
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            _ = ChildExit.wait(process)
        }
    }

    /// What the daemon logged (a process: everything on its stdout and stderr), across restarts.
    var daemonLog: String {
        if mode == .inProcess { return inProcess?.log.contents ?? "" }
        return (try? String(contentsOfFile: directory.file("daemon.log"), encoding: .utf8)) ?? ""
    }

    /// Whether `text` shows up in the daemon's log within about four seconds (log lines may trail an answer).
    func waitForLog(_ text: String) -> Bool {
        for _ in 0..<200 {
            if daemonLog.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    func admin() throws -> CredsClient { try CredsClient(socketPath: adminSocket) }
    func resolver() throws -> CredsClient { try CredsClient(socketPath: resolveSocket) }

    /// Calls on the admin socket and returns the result.
    @discardableResult
    func adminCall(_ method: String, _ params: [String: JSONValue] = [:]) throws -> JSONValue {
        try admin().call(method, params)
    }

    /// Calls on the resolve socket and returns the result.
    @discardableResult
    func resolveCall(_ method: String, _ params: [String: JSONValue] = [:]) throws -> JSONValue {
        try resolver().call(method, params)
    }

    /// Remembers a secret the test handed to the daemon.
    func remember(_ secret: String) { secrets.append(secret) }

    /// Makes `actor` a writer of `workspace`.
    func addWriter(_ actor: String = "alice", workspace: String = "ws1") throws {
        try adminCall("members.set", ["workspaceId": .string(workspace), "principal": .string(actor), "role": "write"])
    }

    /// Stores an API key and returns the connection id.
    @discardableResult
    func upsert(
        provider: String,
        payload: [String: JSONValue],
        workspace: String = "ws1",
        actor: String = "alice",
        name: String = "Key"
    ) throws -> String {
        for value in payload.values { if let text = value.stringValue { remember(text) } }
        let result = try adminCall(
            "connections.upsert",
            [
                "workspaceId": .string(workspace), "provider": .string(provider), "displayName": .string(name),
                "credentialPayload": .object(payload), "actor": .string(actor),
            ]
        )
        return result["connection"]!["id"]!.stringValue!
    }

    /// Issues a grant and returns the token.
    func grant(workspace: String = "ws1", providers: [String]? = nil, ttl: Int64? = nil) throws -> String {
        var params: [String: JSONValue] = ["workspaceId": .string(workspace)]
        if let providers { params["providers"] = .array(providers.map { .string($0) }) }
        if let ttl { params["ttlSeconds"] = .int(ttl) }
        let grant = try adminCall("grants.issue", params)["grant"]!.stringValue!
        remember(grant)
        return grant
    }
}

enum FixtureError: Error, CustomStringConvertible {
    case didNotStart(log: String)

    var description: String {
        switch self {
        case .didNotStart(let log): return "credsd did not start:\n\(log)"
        }
    }
}

/// The reason of the error `body` throws, or nil when it succeeds.
func reason(_ body: () throws -> Any) -> String? {
    do {
        _ = try body()
        return nil
    } catch let error as CredsClientError {
        return error.reason ?? "\(error)"
    } catch {
        return "\(error)"
    }
}

/// The remote error `body` throws; records an issue when it succeeds.
func remoteError(_ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) -> CredsRemoteError? {
    do {
        _ = try body()
        Issue.record("expected an error answer", sourceLocation: sourceLocation)
        return nil
    } catch CredsClientError.remote(let error) {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
