import ArgumentParser
import CredsProtocol

/// `credsctl events verify`
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connection health events, and webhook verification.", subcommands: [List.self, Verify.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Events after a number, oldest first (admin).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Show events after this number.") var since: Int?
        @Option(name: .long, help: "At most this many events (1 to 1000, default 100).") var limit: Int?
        @Option(name: .long, help: "Only this workspace.") var workspace: String?

        func run() throws {
            var params: [String: JSONValue] = [:]
            if let since { params["since"] = .int(Int64(since)) }
            if let limit { params["limit"] = .int(Int64(limit)) }
            if let workspace { params["workspaceId"] = .string(workspace) }
            _ = try Invocation.run("events.list", params, options: global)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a webhook with the workspace's stored secret (resolve socket)."
        )
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "Provider id (resend).") var provider: String = "resend"
        @Option(name: .customLong("grant-file"), help: "File holding the execution grant ('-' for stdin).")
        var grantFile: String?
        @Option(name: .customLong("headers-file"), help: "JSON object of the webhook's headers.") var headersFile:
            String
        @Option(name: .customLong("body-file"), help: "The raw webhook body ('-' for stdin).") var bodyFile: String

        func run() throws {
            let headersText = try SecretInput.text(from: headersFile, what: "the headers")
            guard let headers = try? JSONValue.parse(Array(headersText.utf8)), headers.objectValue != nil else {
                throw ValidationError("the headers file must hold a JSON object")
            }
            var params: [String: JSONValue] = [
                "workspaceId": .string(workspace), "provider": .string(provider), "headers": headers,
                "body": .string(try SecretInput.text(from: bodyFile, what: "the body", keepTrailingNewline: true)),
            ]
            if let grantFile { params["grant"] = .string(try SecretInput.text(from: grantFile, what: "the grant")) }
            _ = try Invocation.run("events.verify", params, options: global)
        }
    }
}
