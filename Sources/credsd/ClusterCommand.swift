import ArgumentParser

/// `credsd cluster`: cluster mode's one-off operations (SPEC 10).
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Cluster mode: many hosts, one PostgreSQL.",
        subcommands: [ClusterInitCommand.self, ClusterImportCommand.self, ClusterUpkeepCommand.self]
    )
}
