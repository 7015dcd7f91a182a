import ArgumentParser
import CCredsSystem
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

    @OptionGroup var options: ConfigOptions

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .customLong("log-format"), help: "text, or json (one object per line, for journald and aggregators).")
    var logFormat: LogFormat = .text

    func run() async throws {
        try CrashReports.ensureSafeSetting()
        disableCoreDumps()
        let level = logLevel
        let format = logFormat
        LoggingSystem.bootstrap { label in
            switch format {
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let logger = Logger(label: "credsd")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        logger.info(
            "core dumps disabled", metadata: ["process.dumpable": "\(credsd_is_dumpable())", "rlimit.core": "0"])
        logger.info("crash reports keep the stack only", metadata: ["swift.backtrace": "\(CrashReports.safeSetting)"])
        let effective = try options.effectiveConfig()
        let assembly = try startup {
            try DaemonAssembly(
                config: effective,
                credentialsDirectory: ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"],
                logger: logger,
                metrics: MetricsListener(registry: registry)
            )
        }
        let reload = ReloadService(options: options, reloader: assembly.reloader)
        let group = ServiceGroup(
            services: [assembly.daemon, reload],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
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
