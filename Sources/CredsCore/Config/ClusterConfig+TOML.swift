import CredsProtocol

extension ClusterConfig {
    /// Reads a `[cluster]` table; `postgres` is required.
    static func read(_ table: TOMLTableReader) throws(ConfigError) -> ClusterConfig {
        try table.allowOnly(allowedKeys)
        guard let text = try table.string("postgres") else {
            throw ConfigError(key: table.name("postgres"), problem: "is required in a [cluster] section")
        }
        let url: PostgresURL
        do {
            url = try PostgresURL.parse(text)
        } catch {
            throw ConfigError(key: table.name("postgres"), problem: error.problem)
        }
        let hostId: Identifier
        if let text = try table.string("hostId") {
            guard let id = Identifier(validating: text) else {
                throw ConfigError(
                    key: table.name("hostId"), problem: "must be 1-128 characters of letters, digits and . _ : @ + -")
            }
            hostId = id
        } else {
            guard let id = hostname() else {
                throw ConfigError(
                    key: table.name("hostId"), problem: "the hostname is not an identifier; set hostId explicitly")
            }
            hostId = id
        }
        var config = ClusterConfig(postgres: url, hostId: hostId)
        if let path = try table.string("passwordFile") {
            config.passwordFile = try table.nonEmpty(path, "passwordFile")
        }
        if let value = try table.int("pollSeconds", in: pollSecondsRange) { config.pollSeconds = value }
        if let value = try table.int("maxStalenessSeconds", in: maxStalenessSecondsRange) {
            config.maxStalenessSeconds = value
        }
        // Contact is renewed every pollSeconds: a limit at or below it would refuse resolves in a quiet, healthy
        // cluster between two polls.
        if config.maxStalenessSeconds > 0, config.maxStalenessSeconds <= config.pollSeconds {
            throw ConfigError(
                key: table.name("maxStalenessSeconds"),
                problem:
                    "must be 0 or more than pollSeconds (\(config.pollSeconds)): contact is renewed every pollSeconds")
        }
        return config
    }
}
