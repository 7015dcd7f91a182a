/// Lifecycle of a connection.
public enum ConnectionStatus: String, Sendable, Codable {
    case active, pending, error, revoked
}
