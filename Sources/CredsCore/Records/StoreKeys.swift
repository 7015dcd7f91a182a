import CredsProtocol

/// Key layouts of the LMDB databases: identifiers' bytes, parts joined with NUL, which identifiers cannot contain.
enum StoreKeys {
    static func connection(_ id: Identifier) -> [UInt8] { Array(id.bytes) }

    static func ownerIndex(_ workspaceId: Identifier, _ provider: Identifier, _ id: Identifier) -> [UInt8] {
        joined(workspaceId, provider, id)
    }

    static func ownerPrefix(_ workspaceId: Identifier, _ provider: Identifier? = nil) -> [UInt8] {
        if let provider { return joined(workspaceId, provider) + [0] }
        return joined(workspaceId) + [0]
    }

    static func policy(_ workspaceId: Identifier, _ provider: Identifier) -> [UInt8] {
        joined(workspaceId, provider)
    }

    static func member(_ workspaceId: Identifier, _ principal: Identifier) -> [UInt8] {
        joined(workspaceId, principal)
    }

    static func workspacePrefix(_ workspaceId: Identifier) -> [UInt8] {
        joined(workspaceId) + [0]
    }

    /// The part of a key after the last NUL.
    static func lastPart(_ key: [UInt8]) -> Identifier {
        let start = key.lastIndex(of: 0).map { $0 + 1 } ?? 0
        return Identifier(stored: String(decoding: key[start...], as: UTF8.self))
    }

    private static func joined(_ parts: Identifier...) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(parts.reduce(parts.count) { $0 + $1.bytes.count })
        for (index, part) in parts.enumerated() {
            if index > 0 { key.append(0) }
            key.append(contentsOf: part.bytes)
        }
        return key
    }

    static let revisionCounter = Array("revision".utf8)
    static let keyCountPrefix = Array("keycount\u{0}".utf8)
}
