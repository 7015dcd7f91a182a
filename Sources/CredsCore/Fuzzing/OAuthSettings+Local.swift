public import CredsCrypto
public import CredsOAuth

extension OAuthSettings {
    /// Google and a GitHub App with every URL under `baseURL` and secrets given in memory, not read from
    /// `[oauth.*]` files: for the in-process fuzz target (`make fuzz`), which points them at a closed local port.
    public static func local(
        baseURL: String,
        googleClientSecret: SecretBytes,
        githubClientSecret: SecretBytes,
        githubKey: GitHubAppKey
    ) -> OAuthSettings {
        OAuthSettings(
            google: GoogleOAuthSettings(
                clientId: "fuzz-client.apps.example", clientSecret: googleClientSecret,
                authorizeUrl: "\(baseURL)/o/oauth2/v2/auth", tokenUrl: "\(baseURL)/token"
            ),
            github: GitHubAppSettings(
                appId: "424242", clientId: "Iv1.fuzz", clientSecret: githubClientSecret, key: githubKey,
                installUrl: "\(baseURL)/apps/fuzz/installations/new", tokenUrl: "\(baseURL)/login/oauth/access_token",
                apiBaseUrl: baseURL
            )
        )
    }
}
