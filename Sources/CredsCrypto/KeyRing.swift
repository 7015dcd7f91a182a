/// The configured master keys: the first seals, every one opens.
public struct KeyRing: Sendable {
    /// Keys in configuration order.
    public let keys: [MasterKey]

    public init(keys: [MasterKey]) {
        self.keys = keys
    }

    /// The key that seals new values, if any key is configured.
    public var active: MasterKey? { keys.first }

    /// The key with the given id, if configured.
    public func key(id: String) -> MasterKey? {
        keys.first { $0.id == id }
    }

    /// Ids of every configured key, active first.
    public var ids: [String] { keys.map(\.id) }
}
