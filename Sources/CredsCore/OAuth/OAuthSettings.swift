public import CredsCrypto
public import CredsOAuth

/// Google's OAuth client as configured in `[oauth.google-workspace]`.
public struct GoogleOAuthSettings: Sendable {
    public let clientId: String
    public let clientSecret: SecretBytes
    public let authorizeUrl: String
    public let tokenUrl: String
}

/// The GitHub App as configured in `[oauth.github]`.
public struct GitHubAppSettings: Sendable {
    public let appId: String
    public let clientId: String?
    public let clientSecret: SecretBytes?
    public let key: GitHubAppKey
    public let installUrl: String
    public let tokenUrl: String
    public let apiBaseUrl: String
}

/// The OAuth providers credsd can run flows for; nil where the section is absent.
public struct OAuthSettings: Sendable {
    public let google: GoogleOAuthSettings?
    public let github: GitHubAppSettings?

    public init(google: GoogleOAuthSettings? = nil, github: GitHubAppSettings? = nil) {
        self.google = google
        self.github = github
    }
}
