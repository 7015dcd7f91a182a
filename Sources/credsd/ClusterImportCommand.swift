import ArgumentParser
import CredsCluster
import CredsCore

/// `credsd cluster import`: copies a single-host store into an empty cluster (SPEC 10), sealed bytes as they are.
struct ClusterImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Copy a single-host store into an empty cluster (one-way; sealed payloads copied as they are).",
        discussion:
            "Reads [cluster] from the configuration file and the store in --data-dir (stop the daemon that uses it first). Refuses a cluster that already holds records. Afterwards start every host, this one too, from an empty data directory: each syncs from PostgreSQL. The master keys stay with the operator: copy the key files to every host."
    )

    @Option(name: .long, help: "TOML configuration file with a [cluster] section.")
    var config: String = "/etc/credsd/credsd.toml"

    @Option(name: .long, help: "The single-host data directory to copy.")
    var dataDir: String

    func run() async throws {
        let target = try ClusterTarget(configFile: config)
        let store = try startup { try CredsDatabase(directory: dataDir) }
        defer { store.close() }
        let records = try startup { try store.singleHostRecords() }
        let importer = ClusterImporter(hostId: target.cluster.hostId.text, logger: target.logger)
        let head: Int64
        do {
            head = try await target.database.withConnection { connection in
                try await importer.importRecords(records, on: connection)
            }
        } catch {
            throw StartupError(message: error.description)
        }
        let counts = Dictionary(grouping: records, by: \.entity).mapValues(\.count)
        let summary = ReplicatedEntity.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ")
        print("imported \(records.count) records (\(summary)) into \(target.cluster.postgres); feed at \(head)")
    }
}
