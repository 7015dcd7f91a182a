/// Which credential served a resolve: the workspace's own (`byo`) or the platform's (`built_in`).
public enum CredentialSource: String, Sendable, Codable {
    case byo
    case builtIn = "built_in"
}
