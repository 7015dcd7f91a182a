import ArgumentParser
import CredsCluster
import CredsCore

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
        let target = try ClusterTarget(configFile: config)
        let (cluster, database, logger) = (target.cluster, target.database, target.logger)
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
