/// A workspace's routing policy for one API-key provider.
public enum RoutingMode: String, Sendable, Codable, CaseIterable {
    /// The workspace's own key, else the platform's.
    case auto
    /// Always the platform's key.
    case builtIn = "built_in"
    /// Only the workspace's own key.
    case byo
}
