import ArgumentParser
import CredsProtocol
import Foundation

/// `credsctl health`
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Daemon health (admin socket unless --socket says otherwise).")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        _ = try Invocation.run("health", [:], options: global)
    }
}

/// `credsctl stats`
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Request counts, resolve latency, resolutions by source, OAuth refreshes, connections, store size."
    )
    @OptionGroup var global: GlobalOptions

    func run() throws {
        _ = try Invocation.run("stats", [:], options: global)
    }
}

/// `credsctl providers list`
struct Providers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The provider catalog.", subcommands: [List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the providers credsd knows.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            _ = try Invocation.run("providers.list", [:], options: global)
        }
    }
}

/// `credsctl keys status`
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Master keys.", subcommands: [Status.self, Rotate.self])

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every record under the active key (safe to interrupt and run again)."
        )
        @OptionGroup var global: GlobalOptions

        func run() throws {
            _ = try Invocation.run("keys.rotate", [:], options: global)
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The active key and how many records each key seals.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            _ = try Invocation.run("keys.status", [:], options: global)
        }
    }
}

/// `credsctl call METHOD PARAMS`
struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call any method with JSON params ('-' reads them from stdin: use that for anything secret)."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Method name, e.g. connections.list.") var method: String
    @Argument(help: "Params as a JSON object, or '-' for stdin.") var params: String = "{}"

    func run() throws {
        let text = params == "-" ? try SecretInput.text(from: "-", what: "the params") : params
        guard let parsed = try? JSONValue.parse(Array(text.utf8)), let object = parsed.objectValue else {
            throw ValidationError("params must be a JSON object")
        }
        _ = try Invocation.run(method, object, options: global)
    }
}
