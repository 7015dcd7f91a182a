import ArgumentParser
import CredsCluster
import CredsCore

/// `credsd cluster upkeep`: runs the database's upkeep once, as the hosts do every 10 minutes.
struct ClusterUpkeepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upkeep",
        abstract: "Run the cluster database's upkeep once (the hosts run it every 10 minutes).",
        discussion:
            "Prunes changes older than 7 days, webhook ids, expired leases and tombstones no change names, then deletes grants and OAuth states expired by the database's clock (each with its change, so every host drops them). Prints what it did; exits 0 without doing anything when a host is running it at that moment."
    )

    @Option(name: .long, help: "TOML configuration file with a [cluster] section.")
    var config: String = "/etc/credsd/credsd.toml"

    func run() async throws {
        let target = try ClusterTarget(configFile: config)
        let upkeep = ClusterUpkeep(hostId: target.cluster.hostId.text, logger: target.logger)
        let report: ClusterUpkeep.Report?
        do {
            report = try await target.database.withConnection { connection in try await upkeep.run(on: connection) }
        } catch {
            throw StartupError(message: error.description)
        }
        guard let report else {
            print("cluster upkeep: another host is running it now (\(target.cluster.postgres))")
            return
        }
        print("cluster upkeep: \(report) (\(target.cluster.postgres))")
    }
}
