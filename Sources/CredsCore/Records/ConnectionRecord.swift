public import CredsCatalog
public import CredsCrypto
public import CredsProtocol

/// A stored connection: metadata in clear, the credential payload sealed.
public struct ConnectionRecord: Sendable, Codable {
    public let id: Identifier
    public let workspaceId: Identifier
    public let provider: Identifier
    public var displayName: String
    public var mode: Provider.Mode
    public var status: ConnectionStatus
    public var scopes: [String]?
    /// Access-token expiry (OAuth), microseconds since the epoch.
    public var expiresAt: Int64?
    public var lastError: String?
    /// Microseconds since the epoch.
    public let createdAt: Int64
    public var updatedAt: Int64
    /// Store-wide write counter at the last update: orders updates made within the same microsecond.
    public var revision: UInt64
    /// The sealed credential payload; nil once revoked.
    public var sealed: SealedValue?

    /// Associated data binding a sealed payload to this connection, its workspace and provider.
    public static func associatedData(id: Identifier, workspaceId: Identifier, provider: Identifier) -> [UInt8] {
        Array("credsd.connection.v1\u{0}\(id)\u{0}\(workspaceId)\u{0}\(provider)".utf8)
    }

    public var associatedData: [UInt8] {
        Self.associatedData(id: id, workspaceId: workspaceId, provider: provider)
    }

    /// The metadata every admin answer shows: never the payload.
    public var publicJSON: JSONValue {
        var object: [String: JSONValue] = [
            "id": id.json,
            "workspaceId": workspaceId.json,
            "provider": provider.json,
            "displayName": .string(displayName),
            "mode": .string(mode.rawValue),
            "status": .string(status.rawValue),
            "createdAt": .string(Timestamp.rfc3339(createdAt)),
            "updatedAt": .string(Timestamp.rfc3339(updatedAt)),
        ]
        if let scopes { object["scopes"] = .array(scopes.map { .string($0) }) }
        if let expiresAt { object["expiresAt"] = .string(Timestamp.rfc3339(expiresAt)) }
        if let lastError { object["lastError"] = .string(lastError) }
        return .object(object)
    }

    /// Whether this record was updated after `other`.
    public func isNewer(than other: ConnectionRecord) -> Bool {
        (updatedAt, revision) > (other.updatedAt, other.revision)
    }
}
