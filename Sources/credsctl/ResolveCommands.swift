import ArgumentParser
import CredsProtocol

/// `credsctl resolve`
struct Resolve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resolve the credential for a provider in a workspace (resolve socket)."
    )
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Workspace id.") var workspace: String
    @Option(name: .long, help: "Provider id.") var provider: String
    @Option(name: .customLong("grant-file"), help: "File holding the execution grant ('-' for stdin).") var grantFile:
        String?
    @Option(name: .long, help: "Use this connection.") var connection: String?
    @Option(name: .long, help: "A scope the credential must carry; repeat for more.") var scope: [String] = []

    func run() throws {
        var params: [String: JSONValue] = ["workspaceId": .string(workspace), "provider": .string(provider)]
        if let grantFile { params["grant"] = .string(try SecretInput.text(from: grantFile, what: "the grant")) }
        if let connection { params["connectionId"] = .string(connection) }
        if !scope.isEmpty { params["requiredScopes"] = .array(scope.map { .string($0) }) }
        _ = try Invocation.run("resolve", params, options: global)
    }
}

/// `credsctl explain`
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what resolve would decide, without the credential.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actor: ActorOption
    @Option(name: .long, help: "Workspace id.") var workspace: String
    @Option(name: .long, help: "Provider id.") var provider: String
    @Option(name: .long, help: "Use this connection.") var connection: String?

    func run() throws {
        var params: [String: JSONValue] = [
            "workspaceId": .string(workspace), "provider": .string(provider), "actor": .string(try actor.value()),
        ]
        if let connection { params["connectionId"] = .string(connection) }
        _ = try Invocation.run("explain", params, options: global)
    }
}
