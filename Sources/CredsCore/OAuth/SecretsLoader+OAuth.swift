import CredsCrypto
import CredsOAuth

extension SecretsLoader {
    /// Reads the `[oauth.*]` sections and the secret files they name. A section that is present must be complete.
    public func loadOAuth() throws(ConfigError) -> OAuthSettings {
        var google: GoogleOAuthSettings?
        var github: GitHubAppSettings?
        if let section = config.oauth["google-workspace"]?.values {
            let prefix = "oauth.google-workspace"
            google = GoogleOAuthSettings(
                clientId: try Self.required(section, "clientId", prefix),
                clientSecret: try Self.secret(section, "clientSecretFile", prefix),
                authorizeUrl: section["authorizeUrl"] ?? "https://accounts.google.com/o/oauth2/v2/auth",
                tokenUrl: section["tokenUrl"] ?? "https://oauth2.googleapis.com/token"
            )
        }
        if let section = config.oauth["github"]?.values {
            let prefix = "oauth.github"
            let pem = try Self.secret(section, "privateKeyFile", prefix)
            let key: GitHubAppKey
            do {
                key = try pem.withUnsafeBytes { try GitHubAppKey(pem: String(decoding: $0, as: UTF8.self)) }
            } catch {
                throw ConfigError(
                    key: "\(prefix).privateKeyFile", problem: "not an RSA private key in PEM form (2048 bits or more)")
            }
            guard
                let installUrl = section["installUrl"]
                    ?? section["appSlug"].map({ "https://github.com/apps/\($0)/installations/new" })
            else {
                throw ConfigError(key: "\(prefix).installUrl", problem: "needed (or appSlug)")
            }
            github = GitHubAppSettings(
                appId: try Self.required(section, "appId", prefix),
                clientId: section["clientId"],
                clientSecret: try section["clientSecretFile"].map { _ throws(ConfigError) in
                    try Self.secret(section, "clientSecretFile", prefix)
                },
                key: key,
                installUrl: installUrl,
                tokenUrl: section["tokenUrl"] ?? "https://github.com/login/oauth/access_token",
                apiBaseUrl: section["apiBaseUrl"] ?? "https://api.github.com"
            )
        }
        return OAuthSettings(google: google, github: github)
    }

    /// The `[oauth.*]` secret files the configuration names, with their keys.
    func oauthSecretFiles() -> [(key: String, path: String)] {
        var files: [(key: String, path: String)] = []
        for (section, table) in config.oauth.sorted(by: { $0.key < $1.key }) {
            for key in ["clientSecretFile", "privateKeyFile"] {
                if let path = table.values[key] { files.append(("oauth.\(section).\(key)", path)) }
            }
        }
        return files
    }

    private static func required(_ section: [String: String], _ key: String, _ prefix: String) throws(ConfigError)
        -> String
    {
        guard let value = section[key] else { throw ConfigError(key: "\(prefix).\(key)", problem: "is required") }
        return value
    }

    private static func secret(_ section: [String: String], _ key: String, _ prefix: String) throws(ConfigError)
        -> SecretBytes
    {
        let path = try required(section, key, prefix)
        _ = try SecretFilePermissions.check(path: path, key: "\(prefix).\(key)")
        do {
            let bytes = try SecretFile.read(path: path)
            guard bytes.count > 0 else {
                throw ConfigError(key: "\(prefix).\(key)", problem: "\(path): the file is empty")
            }
            return bytes
        } catch let error as SecretFileError {
            throw ConfigError(key: "\(prefix).\(key)", problem: error.description)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(key: "\(prefix).\(key)", problem: path)
        }
    }
}
