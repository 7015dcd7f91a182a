import CredsCluster
import CredsCore
import Foundation
import Logging

/// The cluster database a `credsd cluster` command works on: `[cluster]` read from the configuration file, its
/// password from `passwordFile` (warnings about the file's mode on standard error).
struct ClusterTarget {
    let cluster: ClusterConfig
    let database: ClusterDatabase
    let logger: Logger

    init(configFile: String) throws {
        guard let text = try? String(contentsOfFile: configFile, encoding: .utf8) else {
            throw StartupError(message: "\(configFile): cannot read the configuration file")
        }
        let (effective, problems) = DaemonConfig.check(toml: text)
        if let first = problems.first { throw StartupError(message: first.description) }
        guard let cluster = effective.cluster else {
            throw StartupError(message: "\(configFile): no [cluster] section")
        }
        let loader = SecretsLoader(config: effective, credentialsDirectory: nil)
        let password = try startup { try loader.loadClusterPassword() }
        for warning in loader.secretFileWarnings() {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        // Failures are reported by the thrown error; postgres-nio's own log lines would only repeat them.
        logger = Logger(label: "credsd.cluster", factory: { _ in SwiftLogNoOpLogHandler() })
        self.cluster = cluster
        database = ClusterDatabase(config: cluster, password: password, logger: logger)
    }
}
