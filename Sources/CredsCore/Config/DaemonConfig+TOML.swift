public import CredsCatalog
import TOMLKit

extension DaemonConfig {
    /// Reads a TOML configuration over the defaults. Unknown keys and malformed values are errors naming the key.
    public static func parse(toml text: String, catalog: ProviderCatalog = .bundled) throws(ConfigError) -> DaemonConfig
    {
        let (config, problems) = check(toml: text, catalog: catalog)
        if let first = problems.first { throw first }
        return config
    }

    /// Reads a TOML configuration and reports every problem it finds (the first one of each section).
    public static func check(toml text: String, catalog: ProviderCatalog = .bundled) -> (DaemonConfig, [ConfigError]) {
        var problems: [ConfigError] = []
        func attempt(_ body: () throws(ConfigError) -> Void) {
            do { try body() } catch { problems.append(error) }
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            return (
                DaemonConfig(),
                [ConfigError(key: "line \(error.source.begin.line)", problem: "not valid TOML: \(error.description)")]
            )
        } catch {
            return (DaemonConfig(), [ConfigError(key: "file", problem: "not valid TOML")])
        }
        var config = DaemonConfig()
        let top = TOMLTableReader(root, path: "")
        let sections: Set<String> = [
            "dataDir", "sockets", "encryption", "resolve", "limits", "builtin", "oauth", "audit", "metrics", "cluster",
            "providers", "webhooks", "health",
        ]
        for key in top.keys where !sections.contains(key) {
            problems.append(ConfigError(key: key, problem: "unknown key"))
        }
        attempt { () throws(ConfigError) in
            if let dataDir = try top.string("dataDir") { config.dataDir = try top.nonEmpty(dataDir, "dataDir") }
        }

        attempt { () throws(ConfigError) in
            if let sockets = try top.table("sockets") {
                try sockets.allowOnly([
                    "resolve", "admin", "resolveMode", "adminMode", "resolveAllowUids", "adminAllowUids",
                ])
                if let value = try sockets.string("resolve") {
                    config.sockets.resolve = try sockets.nonEmpty(value, "resolve")
                }
                if let value = try sockets.string("admin") {
                    config.sockets.admin = try sockets.nonEmpty(value, "admin")
                }
                if let value = try sockets.fileMode("resolveMode") { config.sockets.resolveMode = value }
                if let value = try sockets.fileMode("adminMode") { config.sockets.adminMode = value }
                if let value = try sockets.uids("resolveAllowUids") { config.sockets.resolveAllowUids = value }
                if let value = try sockets.uids("adminAllowUids") { config.sockets.adminAllowUids = value }
            }
        }
        attempt { () throws(ConfigError) in
            if let encryption = try top.table("encryption") {
                try encryption.allowOnly(["keyFiles"])
                if let files = try encryption.strings("keyFiles") {
                    guard files.allSatisfy({ !$0.isEmpty }) else {
                        throw ConfigError(key: "encryption.keyFiles", problem: "must not contain an empty path")
                    }
                    config.keyFiles = files
                }
            }
        }
        attempt { () throws(ConfigError) in
            if let resolve = try top.table("resolve") {
                try resolve.allowOnly(["requireGrant", "refreshWindowSeconds"])
                if let value = try resolve.bool("requireGrant") { config.resolve.requireGrant = value }
                if let value = try resolve.int("refreshWindowSeconds", in: 0...86_400) {
                    config.resolve.refreshWindowSeconds = value
                }
            }
        }
        attempt { () throws(ConfigError) in
            if let limits = try top.table("limits") {
                try limits.allowOnly(["maxFrameBytes", "maxConnections", "idleTimeoutSeconds", "listenBacklog"])
                if let value = try limits.int("maxFrameBytes", in: 1024...(64 << 20)) {
                    config.limits.maxFrameBytes = value
                }
                if let value = try limits.int("maxConnections", in: 1...1_000_000) {
                    config.limits.maxConnections = value
                }
                if let value = try limits.int("idleTimeoutSeconds", in: 1...86_400) {
                    config.limits.idleTimeoutSeconds = value
                }
                if let value = try limits.int("listenBacklog", in: 1...Int(Int32.max)) {
                    config.limits.listenBacklog = value
                }
            }
        }
        attempt { () throws(ConfigError) in
            if let audit = try top.table("audit") {
                try audit.allowOnly(["maxEntries"])
                if let value = try audit.int("maxEntries", in: 100...1_000_000_000) { config.audit.maxEntries = value }
            }
        }
        attempt { () throws(ConfigError) in
            if let metrics = try top.table("metrics") {
                try metrics.allowOnly(["listen"])
                if let listen = try metrics.string("listen") {
                    guard MetricsConfig.split(listen) != nil else {
                        throw ConfigError(key: "metrics.listen", problem: "must be host:port, e.g. \"127.0.0.1:9464\"")
                    }
                    config.metrics.listen = listen
                }
            }
        }
        attempt { () throws(ConfigError) in
            if let builtin = try top.table("builtin") {
                var files: [String: [String]] = [:]
                for key in builtin.keys {
                    guard let provider = catalog.provider(key), provider.builtIn else {
                        throw ConfigError(key: "builtin.\(key)", problem: "no provider with a built-in key has this id")
                    }
                    // A file, or a pool of files (SPEC 12).
                    var paths: [String] = []
                    if let path = try? builtin.string(key) {
                        paths = [path]
                    } else {
                        paths = try builtin.strings(key) ?? []
                    }
                    guard !paths.isEmpty, paths.count <= 64, Set(paths).count == paths.count else {
                        throw ConfigError(
                            key: "builtin.\(key)", problem: "must be a file, or a list of 1 to 64 different files")
                    }
                    files[key] = try paths.map { path throws(ConfigError) in try builtin.nonEmpty(path, key) }
                }
                config.builtin = files
                config.builtinIsExplicit = true
            }
        }
        attempt { () throws(ConfigError) in
            if let oauth = try top.table("oauth") {
                for provider in oauth.keys {
                    guard let allowed = OAuthClientConfig.allowedKeys[provider], let section = try oauth.table(provider)
                    else {
                        throw ConfigError(key: "oauth.\(provider)", problem: "not an OAuth provider section")
                    }
                    try section.allowOnly(allowed)
                    var values: [String: String] = [:]
                    for key in section.keys {
                        let value = try section.nonEmpty(try section.string(key) ?? "", key)
                        if OAuthClientConfig.urlKeys.contains(key),
                            !(value.hasPrefix("https://") || value.hasPrefix("http://"))
                        {
                            throw ConfigError(key: "oauth.\(provider).\(key)", problem: "must be an http or https URL")
                        }
                        values[key] = value
                    }
                    config.oauth[provider] = OAuthClientConfig(provider: provider, values: values)
                }
            }
        }
        attempt { () throws(ConfigError) in
            if let cluster = try top.table("cluster") { config.cluster = try ClusterConfig.read(cluster) }
        }
        attempt { () throws(ConfigError) in
            if let health = try top.table("health") {
                try health.allowOnly(["probeEverySeconds"])
                if let every = try health.int("probeEverySeconds", in: 0...2_592_000) {
                    config.health.probeEverySeconds = every
                }
            }
        }
        attempt { () throws(ConfigError) in
            if let webhooks = try top.table("webhooks") {
                try webhooks.allowOnly(["url", "secretFile"])
                if let url = try webhooks.string("url") {
                    guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.count > 8 else {
                        throw ConfigError(key: "webhooks.url", problem: "must be an http or https URL")
                    }
                    config.webhooks.url = url
                }
                if let file = try webhooks.string("secretFile") {
                    config.webhooks.secretFile = try webhooks.nonEmpty(file, "secretFile")
                }
                if config.webhooks.url != nil, config.webhooks.secretFile == nil {
                    throw ConfigError(key: "webhooks.secretFile", problem: "is required with webhooks.url")
                }
            }
        }
        attempt { () throws(ConfigError) in
            if let providers = try top.table("providers") {
                for id in providers.keys {
                    guard catalog.provider(id)?.probe != nil, let section = try providers.table(id) else {
                        throw ConfigError(key: "providers.\(id)", problem: "no provider with a probe has this id")
                    }
                    try section.allowOnly(["baseUrl"])
                    guard let url = try section.string("baseUrl") else { continue }
                    let trimmed = url.hasSuffix("/") ? String(url.dropLast()) : url
                    guard trimmed.hasPrefix("https://") || trimmed.hasPrefix("http://"), trimmed.count > 8 else {
                        throw ConfigError(key: "providers.\(id).baseUrl", problem: "must be an http or https URL")
                    }
                    config.providerBaseUrls[id] = trimmed
                }
            }
        }
        return (config, problems)
    }
}
