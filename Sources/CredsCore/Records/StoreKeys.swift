import CredsProtocol

/// Key layouts of the LMDB databases: identifiers' bytes, parts joined with NUL, which identifiers cannot contain.
enum StoreKeys {
    static func connection(_ id: Identifier) -> [UInt8] { Array(id.bytes) }

    static func ownerIndex(_ workspaceId: Identifier, _ provider: Identifier, _ id: Identifier) -> [UInt8] {
        joined(workspaceId, provider, id)
    }

    static func ownerPrefix(_ workspaceId: Identifier, _ provider: Identifier? = nil) -> [UInt8] {
        guard let provider else { return joined(workspaceId, trailingNul: true) }
        return joined(workspaceId, provider, trailingNul: true)
    }

    static func policy(_ workspaceId: Identifier, _ provider: Identifier) -> [UInt8] {
        joined(workspaceId, provider)
    }

    static func budget(_ workspaceId: Identifier, _ provider: Identifier) -> [UInt8] {
        joined(workspaceId, provider)
    }

    /// A day's usage: `workspaceId NUL provider NUL YYYYMMDD`, so a workspace's, a provider's and a month's rows
    /// are each one range in day order.
    static func usage(_ workspaceId: Identifier, _ provider: Identifier, _ day: UTCDay) -> [UInt8] {
        joined(workspaceId, provider, trailingNul: true) + dayDigits(day)
    }

    /// `20261202`.
    static func dayDigits(_ day: UTCDay) -> [UInt8] {
        Array(day.description.utf8.filter { $0 != UInt8(ascii: "-") })
    }

    /// What a usage key names: its workspace, provider and day; nil for a key not of that layout.
    static func usageParts(_ key: [UInt8]) -> (workspaceId: Identifier, provider: Identifier, day: UTCDay)? {
        let parts = key.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].count == 8 else { return nil }
        let digits = parts[2]
        func text(_ range: Range<Int>) -> String {
            String(decoding: digits.dropFirst(range.lowerBound).prefix(range.count), as: UTF8.self)
        }
        guard let day = UTCDay(text(0..<4) + "-" + text(4..<6) + "-" + text(6..<8)) else { return nil }
        return (
            Identifier(stored: String(decoding: parts[0], as: UTF8.self)),
            Identifier(stored: String(decoding: parts[1], as: UTF8.self)), day
        )
    }

    static func member(_ workspaceId: Identifier, _ principal: Identifier) -> [UInt8] {
        joined(workspaceId, principal)
    }

    static func workspacePrefix(_ workspaceId: Identifier) -> [UInt8] {
        joined(workspaceId, trailingNul: true)
    }

    /// The part of a key after the last NUL.
    static func lastPart(_ key: [UInt8]) -> Identifier {
        let start = key.lastIndex(of: 0).map { $0 + 1 } ?? 0
        return Identifier(stored: String(decoding: key[start...], as: UTF8.self))
    }

    /// The parts with a NUL between them (and after the last with `trailingNul`), in one allocation: keys are
    /// made on every resolve.
    private static func joined(
        _ first: Identifier,
        _ second: Identifier? = nil,
        _ third: Identifier? = nil,
        trailingNul: Bool = false
    ) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(
            first.bytes.count + (second?.bytes.count ?? 0) + (third?.bytes.count ?? 0) + 3)
        key.append(contentsOf: first.bytes)
        if let second {
            key.append(0)
            key.append(contentsOf: second.bytes)
        }
        if let third {
            key.append(0)
            key.append(contentsOf: third.bytes)
        }
        if trailingNul { key.append(0) }
        return key
    }

    /// `value` as 8 bytes, most significant first (counters in `meta`, replica versions).
    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    /// The counter `bigEndian` wrote (any length up to 8 bytes reads as a number).
    static func uint64<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        bytes.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
    }

    static let revisionCounter = Array("revision".utf8)
    static let keyCountPrefix = Array("keycount\u{0}".utf8)
}
