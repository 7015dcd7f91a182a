/// How `connections.test` checks an API key with its provider (SPEC 11): one cheap, read-only request with the
/// credential's headers, and what its answer means. Statuses not named mean nothing about the key (credsd cannot
/// tell), and a rule that matches the body decides before the status lists.
public struct Probe: Sendable, Codable, Hashable {
    /// What an answer says about the key.
    public enum Meaning: String, Sendable, Codable {
        case valid, invalid
        /// The key authenticated but may not call the probe (a Resend sending-only key): it works, unverified.
        case unverified
    }

    /// A status whose body holds `bodyContains` means `means`.
    public struct Rule: Sendable, Codable, Hashable {
        public let status: Int
        public let bodyContains: String
        public let means: Meaning
    }

    /// The provider's API, without a trailing slash (`[providers.<id>] baseUrl` replaces it).
    public let baseUrl: String
    /// `GET`: every probe reads, nothing else is sent.
    public let method: String
    /// The path and query after the base URL.
    public let path: String
    public let valid: [Int]
    public let invalid: [Int]
    public let rules: [Rule]?

    /// What an answer with `status` and `body` means; nil when it says nothing about the key.
    public func meaning(status: Int, body: [UInt8]) -> Meaning? {
        if let rules {
            let text = String(decoding: body.prefix(64 * 1024), as: UTF8.self)
            for rule in rules where rule.status == status && text.contains(rule.bodyContains) { return rule.means }
        }
        if valid.contains(status) { return .valid }
        if invalid.contains(status) { return .invalid }
        return nil
    }
}
