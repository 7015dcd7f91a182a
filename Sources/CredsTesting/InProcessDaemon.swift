public import CredsCore
import CredsServer
import Foundation
import Glibc
public import Logging
import ServiceLifecycle
import Synchronization

/// credsd's daemon inside the calling process, as `credsd serve --config FILE` assembles it, for tests.
///
/// What belongs to a process stays out: no signal handlers, no logging or metrics bootstrap, no core-dump or
/// crash-report settings, nothing from systemd, and the process's umask is never changed. Logs go to `log`, in
/// `credsd serve`'s text format. Each daemon has its own event loops, store and thread for its tasks, so many may
/// run at once in one process; `stop()` (or the end of the last reference) shuts everything down.
public final class InProcessDaemon: Sendable {
    public let configPath: String
    /// `$CREDENTIALS_DIRECTORY` as `credsd serve` would see it.
    public let credentialsDirectory: String?
    /// Every line logged, across restarts.
    public let log = LogCapture()
    private let logger: Logger
    private let current = Mutex<Run?>(nil)

    /// Longest wait for the sockets at start and for the drain at stop.
    public static let timeout: Duration = .seconds(30)

    /// A daemon for what the TOML file at `configPath` names; `start()` starts it.
    public init(configPath: String, credentialsDirectory: String? = nil, logLevel: Logger.Level = .info) {
        self.configPath = configPath
        self.credentialsDirectory = credentialsDirectory
        let log = self.log
        logger = Logger(label: "credsd") { label in
            var handler = StreamLogHandler(label: label, stream: log, metadataProvider: nil)
            handler.logLevel = logLevel
            return handler
        }
    }

    deinit {
        _ = try? stop()
    }

    /// Whether the daemon is running.
    public var isRunning: Bool { current.withLock { $0 != nil } }

    /// The running daemon's engine, for white-box checks.
    public var engine: CredsEngine? { current.withLock { $0?.assembly.engine } }

    /// Reads the configuration file, assembles the daemon, runs it and waits until both sockets accept connections.
    /// Throws what stopped it from starting (the log may say more).
    public func start() throws {
        precondition(!isRunning, "the daemon is running already")
        let (config, problems) = Self.readConfig(configPath)
        if let problem = problems.first { throw problem }
        let assembly = try DaemonAssembly(
            config: config, credentialsDirectory: credentialsDirectory, logger: logger, process: .shared)
        let run = Run(assembly: assembly, logger: logger)
        let deadline = ContinuousClock.now + Self.timeout
        while !run.finished.isDone && ContinuousClock.now < deadline {
            if Self.accepts(config.sockets.resolve) && Self.accepts(config.sockets.admin) {
                current.withLock { $0 = run }
                return
            }
            usleep(2_000)
        }
        let outcome = run.stop(within: Self.timeout)
        if case .failure(let error) = outcome { throw error }
        throw InProcessDaemonError.didNotStart
    }

    /// Stops the daemon as SIGTERM does: stops accepting, drains in-flight requests, flushes the audit queue, closes
    /// the store and removes the socket files. Throws what ended the daemon's run if it failed.
    public func stop() throws {
        let taken = current.withLock { running in
            defer { running = nil }
            return running
        }
        guard let run = taken else { return }
        try run.stop(within: Self.timeout).get()
    }

    public func restart() throws {
        try stop()
        try start()
    }

    /// Reads the configuration file again and applies it, as SIGHUP does; returns once applied and logged.
    public func reload() {
        guard let reloader = current.withLock({ $0?.assembly.reloader }) else { return }
        reloader.reload(Self.readConfig(configPath))
    }

    /// The configuration in the file, with the problems found in it (what `credsd serve --config` reads).
    private static func readConfig(_ path: String) -> (DaemonConfig, [ConfigError]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return (DaemonConfig(), [ConfigError(key: path, problem: "cannot read the configuration file")])
        }
        return DaemonConfig.check(toml: text)
    }

    /// Whether a connection to the Unix socket at `path` is accepted (it is closed at once).
    private static func accepts(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}

/// The in-process daemon did not start (its log says why) or did not stop in time.
public enum InProcessDaemonError: Error, CustomStringConvertible {
    case didNotStart
    case didNotStop

    public var description: String {
        switch self {
        case .didNotStart: "the daemon did not accept connections on both sockets in time"
        case .didNotStop: "the daemon did not stop in time"
        }
    }
}

/// One run of the daemon: its service group, running on a thread of its own.
private final class Run: Sendable {
    let assembly: DaemonAssembly
    let finished = Completion()
    private let group: ServiceGroup
    private let executor = EventLoopTaskExecutor()

    init(assembly: DaemonAssembly, logger: Logger) {
        self.assembly = assembly
        let group = ServiceGroup(services: [assembly.daemon], logger: logger)
        self.group = group
        let finished = self.finished
        Task(executorPreference: executor) {
            do {
                try await group.run()
                finished.complete(.success(()))
            } catch {
                finished.complete(.failure(error))
            }
        }
    }

    /// Triggers the graceful shutdown and waits for the run to end; returns how it ended.
    func stop(within timeout: Duration) -> Result<Void, any Error> {
        let group = self.group
        Task(executorPreference: executor) { await group.triggerGracefulShutdown() }
        guard let outcome = finished.wait(within: timeout) else { return .failure(InProcessDaemonError.didNotStop) }
        executor.shutdown()
        return outcome
    }
}

/// How a run ended, once it has.
private final class Completion: Sendable {
    private let outcome = Mutex<Result<Void, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    var isDone: Bool { outcome.withLock { $0 != nil } }

    func complete(_ result: Result<Void, any Error>) {
        outcome.withLock { $0 = result }
        done.signal()
    }

    /// The outcome, or nil when the run has not ended within `timeout`.
    func wait(within timeout: Duration) -> Result<Void, any Error>? {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        guard done.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success else { return nil }
        done.signal()
        return outcome.withLock { $0 }
    }
}
