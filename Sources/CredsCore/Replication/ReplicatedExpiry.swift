public import CredsProtocol

/// When a replicated record stops being usable, for the cluster's upkeep (SPEC 10): grants and OAuth states carry
/// an expiry; the upkeep host deletes expired ones in PostgreSQL by the database's clock, as a single host sweeps
/// them from LMDB (`CredsDatabase+Expiry`).
extension ReplicatedEntity {
    /// Entities whose records expire.
    public static let expiring: [ReplicatedEntity] = [.grant, .oauthState]

    /// The expiry of a record of this entity stored as `value`; nil when it has none or cannot be read (an
    /// unreadable row is left alone: replicas apply it closed).
    public func expiry(of value: [UInt8]) -> Timestamp? {
        switch self {
        case .grant: (try? RecordCoding.decode(GrantRecord.self, from: value))?.expiresAt
        case .oauthState: (try? RecordCoding.decode(OAuthStateRecord.self, from: value))?.expiresAt
        case .connection, .policy, .member, .budget: nil
        }
    }
}
