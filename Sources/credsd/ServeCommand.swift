import ArgumentParser
import CCredsSystem
import CredsCore
import CredsServer
import Foundation
import Glibc
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `credsd serve`: runs the daemon in the foreground until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon in the foreground."
    )

    @Option(name: .long, help: "TOML configuration file.")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Data directory (overrides dataDir).")
    var dataDir: String?

    @Option(name: .customLong("resolve-socket"), help: "Resolve socket path (overrides sockets.resolve).")
    var resolveSocket: String?

    @Option(name: .customLong("admin-socket"), help: "Admin socket path (overrides sockets.admin).")
    var adminSocket: String?

    @Option(name: .customLong("key-file"), help: "Master key file; repeat for more (the first seals).")
    var keyFiles: [String] = []

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        disableCoreDumps()
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "credsd")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        logger.info("core dumps disabled", metadata: ["process.dumpable": "\(credsd_is_dumpable())", "rlimit.core": "0"])
        let effective = try effectiveConfig()
        let loader = SecretsLoader(
            config: effective,
            credentialsDirectory: ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"]
        )
        let keyRing = try startup { try loader.loadKeyRing() }
        let builtinKeys = try startup { try loader.loadBuiltinKeys() }
        let oauth = try startup { try loader.loadOAuth() }
        if keyRing.active == nil {
            logger.warning("no master key configured: health is degraded and writes of credentials are refused")
        }
        try startup { try DataDirectory.prepare(effective.dataDir) }
        let database = try startup { try CredsDatabase(directory: effective.dataDir, auditMaxEntries: UInt64(effective.audit.maxEntries)) }
        let engine = CredsEngine(
            database: database, keyRing: keyRing, builtinKeys: builtinKeys, resolveConfig: effective.resolve,
            oauth: oauth, logger: logger
        )
        let daemon = CredsDaemon(config: effective, engine: engine, logger: logger, metrics: MetricsListener(registry: registry))
        let group = ServiceGroup(
            services: [daemon],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }

    /// Defaults, then the file, then the flags.
    private func effectiveConfig() throws -> DaemonConfig {
        var effective = DaemonConfig()
        if let config {
            let text = try startup { () throws -> String in
                do {
                    return try String(contentsOfFile: config, encoding: .utf8)
                } catch {
                    throw ConfigError(key: config, problem: "cannot read the configuration file")
                }
            }
            effective = try startup { try DaemonConfig.parse(toml: text) }
        }
        if let dataDir { effective.dataDir = dataDir }
        if let resolveSocket { effective.sockets.resolve = resolveSocket }
        if let adminSocket { effective.sockets.admin = adminSocket }
        if !keyFiles.isEmpty { effective.keyFiles = keyFiles }
        return effective
    }

    /// No core file and no dumpable process: a crash must not write decrypted credentials to disk.
    private func disableCoreDumps() {
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(RLIMIT_CORE_VALUE, &limit)
        _ = credsd_disable_dumpable()
    }
}

/// `RLIMIT_CORE` as the type `setrlimit` takes on Glibc.
private let RLIMIT_CORE_VALUE = __rlimit_resource_t(RLIMIT_CORE.rawValue)

/// Runs a startup step; any failure stops the daemon with a one-line message naming the key or path.
func startup<Value>(_ body: () throws -> Value) throws -> Value {
    do {
        return try body()
    } catch {
        throw StartupError(message: "\(error)")
    }
}

/// A startup failure, printed as `Error: <message>` with exit status 1.
struct StartupError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
