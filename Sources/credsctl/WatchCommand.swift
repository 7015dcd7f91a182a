import ArgumentParser
import CredsClient
import CredsProtocol
import Foundation

/// `credsctl watch`: prints events as they happen (SPEC 11 `watch`), one line each, until interrupted or the
/// daemon closes the connection. With `--grant-file` it watches on the resolve socket, scoped by the grant.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print connection health events as they happen.",
        discussion:
            "Admin socket: every event, or --workspace's. With --grant-file: the resolve socket, the grant's workspace and providers. --json prints each event as a JSON line. Exits 0 when the daemon closes the stream, 2 after a resync notice (the watcher fell too far behind: list events from --since to catch up)."
    )
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Only this workspace.") var workspace: String?
    @Option(name: .long, help: "Start after this event number (default: from now on).") var since: Int?
    @Option(name: .customLong("grant-file"), help: "Watch on the resolve socket with this grant ('-' for stdin).")
    var grantFile: String?

    func run() throws {
        var params: [String: JSONValue] = [:]
        if let workspace { params["workspaceId"] = .string(workspace) }
        if let since { params["since"] = .int(Int64(since)) }
        if let grantFile { params["grant"] = .string(try SecretInput.text(from: grantFile, what: "the grant")) }
        let path = global.socketPath(onResolve: grantFile != nil)
        let ending: Ending
        do throws(CredsClientError) {
            ending = try stream(path: path, params: params)
        } catch .remote(let error) {
            FileHandle.standardError.write(Data("error: \(error.reason): \(error.message)\n".utf8))
            throw ExitCode(1)
        } catch .closed {
            return
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(3)
        }
        if ending == .resync {
            FileHandle.standardError.write(Data("resync: fell more than 10,000 events behind\n".utf8))
            throw ExitCode(2)
        }
    }

    private enum Ending { case resync }

    /// Calls `watch` and prints each event until the daemon sends `resync` or closes the connection.
    private func stream(path: String, params: [String: JSONValue]) throws(CredsClientError) -> Ending {
        // No read timeout: a watch is quiet between events (heartbeats every 30 s).
        let client = try CredsClient(socketPath: path, timeoutSeconds: 0)
        defer { client.close() }
        _ = try client.call("watch", params)
        while true {
            let frame = try client.readAnswer()
            switch frame["method"]?.stringValue {
            case "event":
                let event = frame["params"] ?? .null
                let line = global.json ? String(decoding: event.serialized(), as: UTF8.self) : Self.line(event)
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            case "resync":
                return .resync
            default:
                continue
            }
        }
    }

    /// `seq time type workspace provider connection from→to reason`.
    static func line(_ event: JSONValue) -> String {
        func text(_ key: String) -> String { event[key]?.stringValue ?? "-" }
        let change = event["to"] != nil ? " \(event["from"]?.stringValue ?? "-")→\(text("to"))" : ""
        return "\(event["seq"]?.intValue ?? 0) \(text("time")) \(text("type")) \(text("workspaceId")) "
            + "\(text("provider")) \(text("connectionId"))\(change) \(text("reason"))"
    }
}
