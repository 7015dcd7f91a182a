import ArgumentParser

/// `credsctl`: the command-line client for credsd's sockets.
@main
struct CredsctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credsctl",
        abstract: "Command-line client for credsd.",
        discussion: """
            Socket: --socket, else CREDSD_RESOLVE_SOCKET / CREDSD_ADMIN_SOCKET (by method), \
            else CREDSD_SOCKET, else /run/credsd/resolve.sock or /run/credsd/admin.sock.

            Secrets are read from files or standard input ('-'), never from the command line.

            Exit status: 0 ok, 1 the daemon answered an error, 64 usage, 3 the daemon could not be reached.
            """,
        subcommands: [
            Connections.self, Policy.self, Budgets.self, Usage.self, Members.self, Grants.self, Explain.self,
            Resolve.self, Report.self,
            Health.self,
            Providers.self, Keys.self, Audit.self, Events.self, Watch.self, Stats.self, Call.self,
        ]
    )
}
