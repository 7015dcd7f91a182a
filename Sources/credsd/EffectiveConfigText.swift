import CredsCore

/// The effective configuration as TOML, every secret shown only as the path of its file.
enum EffectiveConfigText {
    static func render(_ config: DaemonConfig, keyFiles: [String], keyIds: [String], builtinLoaded: [String]) -> String
    {
        func quoted(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        func list(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ", ") + "]" }
        func mode(_ value: UInt32) -> String { quoted("0" + String(value, radix: 8)) }
        var lines = [
            "dataDir = \(quoted(config.dataDir))", "",
            "[sockets]",
            "resolve = \(quoted(config.sockets.resolve))",
            "admin = \(quoted(config.sockets.admin))",
            "resolveMode = \(mode(config.sockets.resolveMode))",
            "adminMode = \(mode(config.sockets.adminMode))",
            "resolveAllowUids = [\(config.sockets.resolveAllowUids.map(String.init).joined(separator: ", "))]",
            "adminAllowUids = [\(config.sockets.adminAllowUids.map(String.init).joined(separator: ", "))]", "",
            "[encryption]",
            "keyFiles = \(list(keyFiles))   # key ids: \(keyIds.isEmpty ? "none" : keyIds.joined(separator: ", "))", "",
            "[resolve]",
            "requireGrant = \(config.resolve.requireGrant)",
            "refreshWindowSeconds = \(config.resolve.refreshWindowSeconds)", "",
            "[limits]",
            "maxFrameBytes = \(config.limits.maxFrameBytes)",
            "maxConnections = \(config.limits.maxConnections)",
            "idleTimeoutSeconds = \(config.limits.idleTimeoutSeconds)",
            "listenBacklog = \(config.limits.listenBacklog)", "",
            "[audit]",
            "maxEntries = \(config.audit.maxEntries)", "",
            "[metrics]",
            config.metrics.listen.map { "listen = \(quoted($0))" } ?? "# listen is off", "",
            "[builtin]   # loaded: \(builtinLoaded.isEmpty ? "none" : builtinLoaded.joined(separator: ", "))",
        ]
        for (provider, paths) in config.builtin.sorted(by: { $0.key < $1.key }) {
            lines.append(
                paths.count == 1 ? "\(provider) = \(quoted(paths[0]))" : "\(provider) = \(list(paths.map(quoted)))")
        }
        for (provider, section) in config.oauth.sorted(by: { $0.key < $1.key }) {
            lines.append("")
            lines.append("[oauth.\(provider)]")
            for (key, value) in section.values.sorted(by: { $0.key < $1.key }) {
                lines.append("\(key) = \(quoted(value))")
            }
        }
        if config.health.probeEverySeconds > 0 {
            lines += ["", "[health]", "probeEverySeconds = \(config.health.probeEverySeconds)"]
        }
        if let url = config.webhooks.url {
            lines += [
                "", "[webhooks]", "url = \(quoted(url))", "secretFile = \(quoted(config.webhooks.secretFile ?? ""))",
            ]
        }
        for (provider, baseUrl) in config.providerBaseUrls.sorted(by: { $0.key < $1.key }) {
            lines += ["", "[providers.\(provider)]", "baseUrl = \(quoted(baseUrl))"]
        }
        if let cluster = config.cluster {
            lines += [
                "", "[cluster]",
                "postgres = \(quoted(cluster.postgres.description))",
                cluster.passwordFile.map { "passwordFile = \(quoted($0))" } ?? "# no passwordFile",
                "hostId = \(quoted(cluster.hostId.text))",
                "pollSeconds = \(cluster.pollSeconds)",
                "maxStalenessSeconds = \(cluster.maxStalenessSeconds)",
            ]
        }
        return lines.joined(separator: "\n")
    }
}
