import ArgumentParser
import CredsProtocol

/// `credsctl budgets …`
struct Budgets: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Budgets of built-in (platform key) use per workspace and provider.",
        subcommands: [Set.self, Get.self]
    )

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a provider's budget; with no limit at all, remove it.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var actor: ActorOption
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "API-key provider id.") var provider: String
        @Option(name: .long, help: "day or month (UTC).") var period: String
        @Option(name: .long, help: "Built-in resolves per period.") var maxResolves: Int64?
        @Option(name: .long, help: "Units reported for built-in use per period.") var maxUnits: Int64?
        @Option(name: .long, help: "Built-in resolves per minute.") var perMinute: Int64?

        func run() throws {
            var params: [String: JSONValue] = [
                "workspaceId": .string(workspace), "provider": .string(provider), "period": .string(period),
                "actor": .string(try actor.value()),
            ]
            if let maxResolves { params["maxResolves"] = .int(maxResolves) }
            if let maxUnits { params["maxUnits"] = .int(maxUnits) }
            if let perMinute { params["perMinute"] = .int(perMinute) }
            _ = try Invocation.run("budgets.set", params, options: global)
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one provider's budget and use so far, or every budget of the workspace.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var actor: ActorOption
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "Only this provider.") var provider: String?

        func run() throws {
            var params: [String: JSONValue] = ["workspaceId": .string(workspace), "actor": .string(try actor.value())]
            if let provider { params["provider"] = .string(provider) }
            _ = try Invocation.run("budgets.get", params, options: global)
        }
    }
}
