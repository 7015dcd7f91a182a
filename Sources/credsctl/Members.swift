import ArgumentParser
import CredsProtocol

/// `credsctl members …`
struct Members: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Who may read or write a workspace's connections.",
        subcommands: [Set.self, List.self]
    )

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a principal read, write or none.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "Principal (the actor name the control plane sends).") var principal: String
        @Option(name: .long, help: "read, write or none.") var role: String

        func run() throws {
            _ = try Invocation.run(
                "members.set",
                ["workspaceId": .string(workspace), "principal": .string(principal), "role": .string(role)],
                options: global
            )
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a workspace's members.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Workspace id.") var workspace: String

        func run() throws {
            _ = try Invocation.run("members.list", ["workspaceId": .string(workspace)], options: global)
        }
    }
}
