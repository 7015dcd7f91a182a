import ArgumentParser
import CredsCore
import Foundation

/// The configuration flags `serve` and `check-config` share; they override the file.
struct ConfigOptions: ParsableArguments {
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

    /// Defaults, then the file, then the flags; with every problem found in the file.
    func load() -> (DaemonConfig, [ConfigError]) {
        var effective = DaemonConfig()
        var problems: [ConfigError] = []
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                return (effective, [ConfigError(key: config, problem: "cannot read the configuration file")])
            }
            (effective, problems) = DaemonConfig.check(toml: text)
        }
        if let dataDir { effective.dataDir = dataDir }
        if let resolveSocket { effective.sockets.resolve = resolveSocket }
        if let adminSocket { effective.sockets.admin = adminSocket }
        if !keyFiles.isEmpty { effective.keyFiles = keyFiles }
        return (effective, problems)
    }

    /// The effective configuration, or the first problem as a startup error.
    func effectiveConfig() throws -> DaemonConfig {
        let (config, problems) = load()
        if let first = problems.first { throw StartupError(message: first.description) }
        return config
    }
}
