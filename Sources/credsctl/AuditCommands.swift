import ArgumentParser
import CredsProtocol

/// `credsctl audit …`
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The hash-chained audit trail.",
        subcommands: [List.self, Verify.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Entries after a sequence number, oldest first.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Show entries after this sequence number.") var since: Int?
        @Option(name: .long, help: "At most this many entries (1 to 1000, default 100).") var limit: Int?
        @Option(name: .long, help: "Only this workspace.") var workspace: String?
        @Option(name: .customLong("host-id"), help: "Cluster mode: only this host's chain.") var hostId: String?

        func run() throws {
            var params: [String: JSONValue] = [:]
            if let since { params["since"] = .int(Int64(since)) }
            if let limit { params["limit"] = .int(Int64(limit)) }
            if let workspace { params["workspaceId"] = .string(workspace) }
            if let hostId { params["hostId"] = .string(hostId) }
            _ = try Invocation.run("audit.list", params, options: global)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the chain; names the first broken entry.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let result = try Invocation.run("audit.verify", [:], options: global)
            if result["ok"] == false { throw ExitCode(1) }
        }
    }
}
