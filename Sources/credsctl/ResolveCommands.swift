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

/// `credsctl report`
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report what a provider answered a call made with a resolved credential (resolve socket).",
        discussion:
            "Outcomes: ok, unauthorized (401/403), rate_limited (429), quota_exceeded, upstream_error (5xx, timeouts)."
    )
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Workspace id.") var workspace: String
    @Option(name: .long, help: "Provider id.") var provider: String
    @Option(name: .customLong("grant-file"), help: "File holding the execution grant ('-' for stdin).") var grantFile:
        String?
    @Option(name: .long, help: "The connection the call used (source byo).") var connection: String?
    @Option(name: .long, help: "byo or built_in.") var source: String = "byo"
    @Option(name: .long, help: "What the provider answered.") var outcome: String
    @Option(name: .customLong("http-status"), help: "The HTTP status the provider answered.") var httpStatus: Int?
    @Option(name: .customLong("retry-after"), help: "Seconds the provider asked to wait.") var retryAfter: Int?

    func run() throws {
        var params: [String: JSONValue] = [
            "workspaceId": .string(workspace), "provider": .string(provider), "source": .string(source),
            "outcome": .string(outcome),
        ]
        if let grantFile { params["grant"] = .string(try SecretInput.text(from: grantFile, what: "the grant")) }
        if let connection { params["connectionId"] = .string(connection) }
        if let httpStatus { params["httpStatus"] = .int(Int64(httpStatus)) }
        if let retryAfter { params["retryAfterSeconds"] = .int(Int64(retryAfter)) }
        _ = try Invocation.run("resolve.report", params, options: global)
    }
}
