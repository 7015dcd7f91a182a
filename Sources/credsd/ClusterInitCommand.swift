import ArgumentParser
import CredsCluster
import CredsCore
import Foundation
import Logging

/// `credsd cluster init`: creates or migrates the cluster schema named by `[cluster]`.
struct ClusterInitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create or migrate the cluster schema in PostgreSQL (idempotent; safe from several hosts at once).",
        discussion:
            "Reads [cluster] from the configuration file. Prints the schema version; exits 1 naming the database (never its password) when it cannot be reached or refuses."
    )

    @Option(name: .long, help: "TOML configuration file with a [cluster] section.")
    var config: String = "/etc/credsd/credsd.toml"

    func run() async throws {
        guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
            throw StartupError(message: "\(config): cannot read the configuration file")
        }
        let (effective, problems) = DaemonConfig.check(toml: text)
        if let first = problems.first { throw StartupError(message: first.description) }
        guard let cluster = effective.cluster else {
            throw StartupError(message: "\(config): no [cluster] section")
        }
        let loader = SecretsLoader(config: effective, credentialsDirectory: nil)
        let password = try startup { try loader.loadClusterPassword() }
        for warning in loader.secretFileWarnings() {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        // Failures are reported by the thrown error; postgres-nio's own log lines would only repeat them.
        let logger = Logger(label: "credsd.cluster", factory: { _ in SwiftLogNoOpLogHandler() })
        let database = ClusterDatabase(config: cluster, password: password, logger: logger)
        let migrator = SchemaMigrator(hostId: cluster.hostId, logger: logger)
        let outcome: SchemaMigrator.Outcome
        do {
            outcome = try await database.withConnection { connection in try await migrator.migrate(connection) }
        } catch {
            throw StartupError(message: error.description)
        }
        if outcome.from == outcome.to {
            print("cluster schema at version \(outcome.to): already current (\(cluster.postgres))")
        } else {
            print("cluster schema migrated from version \(outcome.from) to \(outcome.to) (\(cluster.postgres))")
        }
    }
}
