/// An `[oauth.<provider>]` section, kept as its validated string values. Secrets are file paths here.
public struct OAuthClientConfig: Sendable, Equatable {
    public let provider: String
    public let values: [String: String]

    /// Keys each OAuth provider's section accepts.
    public static let allowedKeys: [String: Set<String>] = [
        "google-workspace": ["clientId", "clientSecretFile", "authorizeUrl", "tokenUrl"],
        "github": [
            "appId", "appSlug", "clientId", "clientSecretFile", "privateKeyFile", "installUrl", "tokenUrl",
            "apiBaseUrl",
        ],
    ]

    /// Keys holding URLs, checked to be http or https.
    public static let urlKeys: Set<String> = ["authorizeUrl", "tokenUrl", "installUrl", "apiBaseUrl"]
}
