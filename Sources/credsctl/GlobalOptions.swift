import ArgumentParser
import CredsProtocol
import Foundation

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Socket path (else CREDSD_RESOLVE_SOCKET/CREDSD_ADMIN_SOCKET, CREDSD_SOCKET, default).")
    var socket: String?

    @Flag(name: .long, help: "Print the JSON answer instead of a table.")
    var json = false

    /// The socket for `method`: resolve-socket methods default to the resolve socket, the rest to admin.
    func socketPath(for method: String) -> String {
        socketPath(onResolve: MethodCatalog.isResolveOnly(method))
    }

    /// The resolve socket's path, or the admin socket's.
    func socketPath(onResolve: Bool) -> String {
        if let socket { return socket }
        let environment = ProcessInfo.processInfo.environment
        if let specific = environment[onResolve ? "CREDSD_RESOLVE_SOCKET" : "CREDSD_ADMIN_SOCKET"], !specific.isEmpty {
            return specific
        }
        if let general = environment["CREDSD_SOCKET"], !general.isEmpty { return general }
        return onResolve ? "/run/credsd/resolve.sock" : "/run/credsd/admin.sock"
    }
}

/// `--actor`, with `CREDSD_ACTOR` as its default.
struct ActorOption: ParsableArguments {
    @Option(name: .long, help: "The person on whose behalf the call is made (else CREDSD_ACTOR).")
    var actor: String?

    func value() throws -> String {
        if let actor { return actor }
        if let actor = ProcessInfo.processInfo.environment["CREDSD_ACTOR"], !actor.isEmpty { return actor }
        throw ValidationError("--actor is required (or set CREDSD_ACTOR)")
    }
}
