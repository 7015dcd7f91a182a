import ArgumentParser
import CredsProtocol

/// `credsctl usage`: a workspace's usage as a table by UTC day and provider.
struct Usage: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A workspace's usage per UTC day and provider (usage.get), as a table.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actor: ActorOption
    @Option(name: .long, help: "Workspace id.") var workspace: String
    @Option(name: .long, help: "Only this provider.") var provider: String?
    @Option(name: .long, help: "First day, YYYY-MM-DD (default: 29 days before --to).") var from: String?
    @Option(name: .long, help: "Last day, YYYY-MM-DD (default: today, UTC).") var to: String?

    func run() throws {
        var params: [String: JSONValue] = ["workspaceId": .string(workspace), "actor": .string(try actor.value())]
        if let provider { params["provider"] = .string(provider) }
        if let from { params["from"] = .string(from) }
        if let to { params["to"] = .string(to) }
        guard !global.json else {
            _ = try Invocation.run("usage.get", params, options: global)
            return
        }
        let result = try Invocation.runQuietly("usage.get", params, options: global)
        print(Self.table(result["days"]?.arrayValue ?? []), terminator: "")
    }

    /// One line per day and provider: resolves by source, fallbacks, reports, units and refusals.
    static func table(_ days: [JSONValue]) -> String {
        func count(_ value: JSONValue?) -> String { String(value?.intValue ?? 0) }
        func counts(_ value: JSONValue?) -> String {
            let members = value?.objectValue ?? [:]
            guard !members.isEmpty else { return "-" }
            return members.keys.sorted().map { "\($0)=\(members[$0]?.intValue ?? 0)" }.joined(separator: ",")
        }
        let header = ["DAY", "PROVIDER", "BYO", "BUILT_IN", "UNITS", "FALLBACKS", "REPORTS", "REFUSED"]
        let rows = days.map { day in
            [
                day["day"]?.stringValue ?? "?", day["provider"]?.stringValue ?? "?", count(day["resolves"]?["byo"]),
                count(day["resolves"]?["built_in"]), count(day["units"]), counts(day["fallbacks"]),
                counts(day["reports"]), counts(day["refused"]),
            ]
        }
        let widths = header.indices.map { index in
            max(header[index].count, rows.map { $0[index].count }.max() ?? 0)
        }
        func line(_ values: [String]) -> String {
            var text = zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text + "\n"
        }
        return ([header] + rows).map(line).joined()
    }
}
