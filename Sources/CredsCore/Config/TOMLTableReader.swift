import TOMLKit

/// Typed, key-checking reads from one TOML table; every error names the dotted key.
struct TOMLTableReader {
    let table: TOMLTable
    let path: String

    init(_ table: TOMLTable, path: String) {
        self.table = table
        self.path = path
    }

    var keys: [String] { table.keys.sorted() }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func allowOnly(_ allowed: Set<String>) throws(ConfigError) {
        if let unknown = keys.first(where: { !allowed.contains($0) }) {
            throw ConfigError(key: name(unknown), problem: "unknown key")
        }
    }

    func table(_ key: String) throws(ConfigError) -> TOMLTableReader? {
        guard let value = table[key] else { return nil }
        guard let nested = value.table else { throw ConfigError(key: name(key), problem: "must be a table") }
        return TOMLTableReader(nested, path: name(key))
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = table[key] else { return nil }
        guard let text = value.string else { throw ConfigError(key: name(key), problem: "must be a string") }
        return text
    }

    func nonEmpty(_ value: String, _ key: String) throws(ConfigError) -> String {
        guard !value.isEmpty else { throw ConfigError(key: name(key), problem: "must not be empty") }
        return value
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let flag = value.bool else { throw ConfigError(key: name(key), problem: "must be true or false") }
        return flag
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = table[key] else { return nil }
        guard let number = value.int, range.contains(number) else {
            throw ConfigError(
                key: name(key), problem: "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw ConfigError(key: name(key), problem: "must be an array of strings") }
        var strings: [String] = []
        for element in array {
            guard let text = element.string else {
                throw ConfigError(key: name(key), problem: "must be an array of strings")
            }
            strings.append(text)
        }
        return strings
    }

    func uids(_ key: String) throws(ConfigError) -> [UInt32]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw ConfigError(key: name(key), problem: "must be an array of uids") }
        var uids: [UInt32] = []
        for element in array {
            guard let number = element.int, number >= 0, number <= Int(UInt32.max - 1) else {
                throw ConfigError(key: name(key), problem: "must be an array of non-negative integer uids")
            }
            uids.append(UInt32(number))
        }
        return uids
    }

    /// An octal mode string such as `"0660"`.
    func fileMode(_ key: String) throws(ConfigError) -> UInt32? {
        guard let text = try string(key) else { return nil }
        guard (3...4).contains(text.count), let mode = UInt32(text, radix: 8), mode <= 0o777 else {
            throw ConfigError(key: name(key), problem: "must be an octal mode string such as \"0660\"")
        }
        return mode
    }
}
