/// Key layouts of the LMDB databases. Parts are joined with NUL, which identifiers cannot contain.
enum StoreKeys {
    static func connection(_ id: String) -> [UInt8] { Array(id.utf8) }

    static func ownerIndex(_ workspaceId: String, _ provider: String, _ id: String) -> [UInt8] {
        Array("\(workspaceId)\u{0}\(provider)\u{0}\(id)".utf8)
    }

    static func ownerPrefix(_ workspaceId: String, _ provider: String? = nil) -> [UInt8] {
        if let provider { return Array("\(workspaceId)\u{0}\(provider)\u{0}".utf8) }
        return Array("\(workspaceId)\u{0}".utf8)
    }

    static func policy(_ workspaceId: String, _ provider: String) -> [UInt8] {
        Array("\(workspaceId)\u{0}\(provider)".utf8)
    }

    static func member(_ workspaceId: String, _ principal: String) -> [UInt8] {
        Array("\(workspaceId)\u{0}\(principal)".utf8)
    }

    static func workspacePrefix(_ workspaceId: String) -> [UInt8] {
        Array("\(workspaceId)\u{0}".utf8)
    }

    /// The part of a key after the last NUL.
    static func lastPart(_ key: [UInt8]) -> String {
        let start = key.lastIndex(of: 0).map { $0 + 1 } ?? 0
        return String(decoding: key[start...], as: UTF8.self)
    }

    static let revisionCounter = Array("revision".utf8)
    static let keyCountPrefix = Array("keycount\u{0}".utf8)
}
