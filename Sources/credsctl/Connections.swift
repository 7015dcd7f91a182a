import ArgumentParser
import CredsProtocol

/// `credsctl connections …`
struct Connections: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, inspect, test, revoke and delete connections.",
        subcommands: [Upsert.self, Get.self, List.self, Test.self, Revoke.self, Delete.self]
    )

    struct Upsert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store an API key (from a file or stdin) as a connection.",
            discussion:
                "Give --api-key-file (and for Resend optionally --webhook-secret-file), or --payload-file with the whole credentialPayload JSON."
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var actor: ActorOption
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "Provider id (see `credsctl providers list`).") var provider: String
        @Option(name: .long, help: "Display name, 1 to 200 characters.") var name: String
        @Option(name: .long, help: "Update this connection instead of creating one.") var connection: String?
        @Option(name: .customLong("api-key-file"), help: "File holding the API key ('-' for stdin).") var apiKeyFile:
            String?
        @Option(name: .customLong("webhook-secret-file"), help: "File holding the webhook secret.")
        var webhookSecretFile: String?
        @Option(name: .customLong("payload-file"), help: "File holding the credentialPayload JSON ('-' for stdin).")
        var payloadFile: String?

        func run() throws {
            var payload: [String: JSONValue] = [:]
            if let payloadFile {
                let text = try SecretInput.text(from: payloadFile, what: "the credential payload")
                guard let parsed = try? JSONValue.parse(Array(text.utf8)), let object = parsed.objectValue else {
                    throw ValidationError("the payload file must hold a JSON object")
                }
                payload = object
            }
            if let apiKeyFile {
                payload["apiKey"] = .string(try SecretInput.text(from: apiKeyFile, what: "the API key"))
            }
            if let webhookSecretFile {
                payload["webhookSecret"] = .string(
                    try SecretInput.text(from: webhookSecretFile, what: "the webhook secret"))
            }
            guard !payload.isEmpty else { throw ValidationError("give --api-key-file or --payload-file") }
            var params: [String: JSONValue] = [
                "workspaceId": .string(workspace), "provider": .string(provider), "displayName": .string(name),
                "credentialPayload": .object(payload), "actor": .string(try actor.value()),
            ]
            if let connection { params["connectionId"] = .string(connection) }
            _ = try Invocation.run("connections.upsert", params, options: global)
        }
    }

    /// `--connection` and `--actor`: what get, revoke and delete take.
    struct Target: ParsableArguments {
        @OptionGroup var actor: ActorOption
        @Option(name: .long, help: "Connection id.") var connection: String

        func params() throws -> [String: JSONValue] {
            ["connectionId": .string(connection), "actor": .string(try actor.value())]
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a connection's metadata.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target

        func run() throws {
            _ = try Invocation.run("connections.get", try target.params(), options: global)
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a connection's key with its provider (one live, read-only request).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target

        func run() throws {
            let result = try Invocation.run("connections.test", try target.params(), options: global)
            if result["ok"] == false { throw ExitCode(1) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a workspace's connections.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var actor: ActorOption
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "Only this provider.") var provider: String?

        func run() throws {
            var params: [String: JSONValue] = ["workspaceId": .string(workspace), "actor": .string(try actor.value())]
            if let provider { params["provider"] = .string(provider) }
            _ = try Invocation.run("connections.list", params, options: global)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a connection; its secret is destroyed.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target

        func run() throws {
            _ = try Invocation.run("connections.revoke", try target.params(), options: global)
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a connection.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target

        func run() throws {
            _ = try Invocation.run("connections.delete", try target.params(), options: global)
        }
    }
}
