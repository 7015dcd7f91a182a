import CredsProtocol

/// Renders an answer for people: arrays of objects as tables, everything else as `key: value` lines.
enum OutputRenderer {
    static func render(_ value: JSONValue) -> String {
        guard case .object(let members) = value else { return scalar(value) + "\n" }
        var lines: [String] = []
        var tables: [String] = []
        for key in members.keys.sorted() {
            let member = members[key]!
            if case .array(let rows) = member, !rows.isEmpty, rows.allSatisfy({ $0.objectValue != nil }) {
                tables.append("\(key):\n" + table(rows))
            } else if case .object(let nested) = member, !nested.isEmpty {
                lines.append("\(key):")
                for nestedKey in nested.keys.sorted() {
                    lines.append("  \(nestedKey): \(scalar(nested[nestedKey]!))")
                }
            } else {
                lines.append("\(key): \(scalar(member))")
            }
        }
        return (lines + tables).joined(separator: "\n") + "\n"
    }

    private static func table(_ rows: [JSONValue]) -> String {
        var columns: [String] = []
        for row in rows {
            for key in row.objectValue!.keys.sorted() where !columns.contains(key) { columns.append(key) }
        }
        let cells = rows.map { row in columns.map { row[$0].map(scalar) ?? "" } }
        let widths = columns.indices.map { index in
            max(columns[index].count, cells.map { $0[index].count }.max() ?? 0)
        }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingTrailingSpaces()
        }
        return ([line(columns.map { $0.uppercased() })] + cells.map(line)).map { "  " + $0 }.joined(separator: "\n")
    }

    private static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .null: return "-"
        case .string(let text): return text
        case .bool(let flag): return flag ? "yes" : "no"
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .array(let elements):
            return elements.map { $0["name"]?.stringValue ?? scalar($0) }.joined(separator: ",")
        case .object: return String(decoding: value.serialized(), as: UTF8.self)
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
