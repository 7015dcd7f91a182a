import ArgumentParser
import CredsProtocol

/// `credsctl policy …`
struct Policy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Routing policy of a workspace: auto, built_in or byo.",
        subcommands: [Set.self, Get.self]
    )

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a provider's routing mode.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var actor: ActorOption
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "API-key provider id.") var provider: String
        @Option(name: .long, help: "auto, built_in or byo.") var mode: String
        @Option(
            name: .long,
            help: ArgumentHelp(
                "Under auto: reported failure classes of the workspace's key that send resolves to the platform key "
                    + "while it cools down (rate_limited, quota_exceeded, upstream_error, unauthorized); repeatable."))
        var fallbackOn: [String] = []

        func run() throws {
            var params: [String: JSONValue] = [
                "workspaceId": .string(workspace), "provider": .string(provider), "mode": .string(mode),
                "actor": .string(try actor.value()),
            ]
            if !fallbackOn.isEmpty {
                params["fallbackOn"] = .array(
                    fallbackOn.flatMap { $0.split(separator: ",") }.map { .string(String($0)) })
            }
            _ = try Invocation.run("policy.set", params, options: global)
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one provider's mode, or all of them.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var actor: ActorOption
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "Only this provider.") var provider: String?

        func run() throws {
            var params: [String: JSONValue] = ["workspaceId": .string(workspace), "actor": .string(try actor.value())]
            if let provider { params["provider"] = .string(provider) }
            _ = try Invocation.run("policy.get", params, options: global)
        }
    }
}
