import ArgumentParser
import CredsProtocol
import Foundation

/// `credsctl grants …`
struct Grants: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Execution grants: bearer tokens for the resolve socket.",
        subcommands: [Issue.self, Revoke.self]
    )

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a grant for a workspace.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Workspace id.") var workspace: String
        @Option(name: .long, help: "Limit the grant to this provider; repeat for more.") var provider: [String] = []
        @Option(name: .long, help: "Lifetime in seconds (default 900, at most 86400).") var ttl: Int?
        @Option(
            name: .long,
            help:
                "Write the grant to this new file (mode 0600; an existing file is never replaced) instead of printing it."
        ) var out: String?

        func run() throws {
            var params: [String: JSONValue] = ["workspaceId": .string(workspace)]
            if !provider.isEmpty { params["providers"] = .array(provider.map { .string($0) }) }
            if let ttl { params["ttlSeconds"] = .int(Int64(ttl)) }
            guard let out else {
                _ = try Invocation.run("grants.issue", params, options: global)
                return
            }
            // Refused before a grant is issued for nothing; the create below still never replaces a file.
            if FileManager.default.fileExists(atPath: out) { throw ValidationError("\(out) exists; name a new file") }
            var quiet = global
            quiet.json = true
            let result = try Invocation.runQuietly("grants.issue", params, options: quiet)
            guard let grant = result["grant"]?.stringValue else { throw ExitCode(1) }
            try SecretOutput.create(out, text: grant + "\n")
            print("grant written to \(out), expires \(result["expiresAt"]?.stringValue ?? "?")")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a grant read from a file or stdin.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("grant-file"), help: "File holding the grant ('-' for stdin).") var grantFile: String

        func run() throws {
            let grant = try SecretInput.text(from: grantFile, what: "the grant")
            _ = try Invocation.run("grants.revoke", ["grant": .string(grant)], options: global)
        }
    }
}
