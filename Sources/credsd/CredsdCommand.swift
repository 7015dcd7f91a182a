import ArgumentParser

/// `credsd`: the credential sidecar.
@main
struct CredsdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credsd",
        abstract: "The credential sidecar: encrypted connections, resolved over a Unix socket.",
        subcommands: [
            ServeCommand.self, KeygenCommand.self, CheckConfigCommand.self, BackupCommand.self, ClusterCommand.self,
        ],
        defaultSubcommand: ServeCommand.self
    )
}
