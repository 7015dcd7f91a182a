/// The kinds of records cluster mode keeps in PostgreSQL (SPEC 10), named as in its change feed.
public enum ReplicatedEntity: String, Sendable, CaseIterable {
    case connection, policy, member, grant, budget
    case oauthState = "oauth_state"

    /// The entity whose records live in the LMDB database named `name`.
    init?(table name: String) {
        switch name {
        case "connections": self = .connection
        case "policies": self = .policy
        case "members": self = .member
        case "grants": self = .grant
        case "oauth_states": self = .oauthState
        case "budgets": self = .budget
        default: return nil
        }
    }
}
