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
    /// Access-token expiry (OAuth).
    public var expiresAt: Timestamp?
    public var lastError: String?
    /// Why the status is what it is, as a stable word (`created`, `unauthorized_reports`, `invalid_grant`, …):
    /// the `reason` of the event the change makes. Not shown in answers; nil in records written before it.
    public var statusReason: String? = nil
    public let createdAt: Timestamp
    public var updatedAt: Timestamp
    /// Store-wide write counter at the last update: orders updates made within the same microsecond.
    public var revision: UInt64
    /// The sealed credential payload; nil once revoked.
    public var sealed: SealedValue?
    /// `revision` at the last write that changed who or what the connection is authorized as (everything but
    /// a token refresh or a re-seal under a new master key). An OAuth completion started before such a write
    /// is refused. Nil in records written before it was kept: `revision` stands in.
    public var authorizationRevision: UInt64?

    /// The revision an OAuth completion or a status change checks against.
    public var authorizationVersion: UInt64 { authorizationRevision ?? revision }

    /// Associated data binding a sealed payload to this connection, its workspace and provider.
    public static func associatedData(id: Identifier, workspaceId: Identifier, provider: Identifier) -> [UInt8] {
        // Built in one buffer (it is made on every resolve): "credsd.connection.v1", then each id after a NUL.
        let prefix = "credsd.connection.v1".utf8
        var data: [UInt8] = []
        data.reserveCapacity(prefix.count + 3 + id.bytes.count + workspaceId.bytes.count + provider.bytes.count)
        data.append(contentsOf: prefix)
        data.append(0)
        data.append(contentsOf: id.bytes)
        data.append(0)
        data.append(contentsOf: workspaceId.bytes)
        data.append(0)
        data.append(contentsOf: provider.bytes)
        return data
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
            "createdAt": .string(createdAt.rfc3339),
            "updatedAt": .string(updatedAt.rfc3339),
        ]
        if let scopes { object["scopes"] = .array(scopes.map { .string($0) }) }
        if let expiresAt { object["expiresAt"] = .string(expiresAt.rfc3339) }
        if let lastError { object["lastError"] = .string(lastError) }
        return .object(object)
    }

    /// Whether this record was updated after `other`.
    public func isNewer(than other: ConnectionRecord) -> Bool {
        (updatedAt, revision) > (other.updatedAt, other.revision)
    }
}
