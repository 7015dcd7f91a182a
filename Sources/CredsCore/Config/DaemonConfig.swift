/// The effective configuration of `credsd serve`: defaults, then the TOML file, then flags.
public struct DaemonConfig: Sendable, Equatable {
    public var dataDir = "/var/lib/credsd"
    public var sockets = SocketsConfig()
    /// `encryption.keyFiles`; nil when absent (then `$CREDENTIALS_DIRECTORY/master.key` or the default path).
    public var keyFiles: [String]?
    public var resolve = ResolveConfig()
    public var limits = LimitsConfig()
    public var audit = AuditConfig()
    public var metrics = MetricsConfig()
    /// `[builtin]`: provider id to its key files (a pool, SPEC 12; a single file is a pool of one).
    public var builtin: [String: [String]] = DaemonConfig.defaultBuiltin
    /// Whether `builtin` came from the file: then a missing key file is an error, not an absent key.
    public var builtinIsExplicit = false
    /// `[oauth.*]` sections by provider id.
    public var oauth: [String: OAuthClientConfig] = [:]
    /// `[cluster]` (SPEC 10); nil: a single host.
    public var cluster: ClusterConfig?
    /// `[providers.<id>] baseUrl`: where `connections.test` sends a provider's probe instead of its catalog URL.
    public var providerBaseUrls: [String: String] = [:]
    public var webhooks = WebhooksConfig()
    public var health = HealthConfig()

    /// Built-in key files assumed when the file has no `[builtin]` table.
    public static let defaultBuiltin = [
        "fal": ["/etc/credsd/builtin/fal.key"],
        "gemini": ["/etc/credsd/builtin/gemini.key"],
    ]
    /// Master key file assumed when `keyFiles` is absent and systemd passed no credential.
    public static let defaultKeyFile = "/etc/credsd/master.key"

    public init() {}
}
