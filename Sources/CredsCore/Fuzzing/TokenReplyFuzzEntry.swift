public import CredsProtocol

/// The parsers of what OAuth providers answer, reachable from the `token-replies` fuzz target (`make fuzz`)
/// without making them API: each entry runs the daemon's own parser and hands back what it kept.
public enum TokenReplyFuzzEntry {
    /// What `TokenGrant` keeps of a token endpoint's answer.
    public struct Grant: Sendable, Equatable {
        public let accessToken: String
        public let refreshToken: String?
        public let expiresAt: Timestamp?
        public let scopes: [String]?
        public let tokenType: String
    }

    /// `TokenGrant(json:now:)`: a token endpoint's answer to a code exchange or a refresh.
    public static func tokenGrant(_ json: JSONValue, now: Timestamp) -> Grant? {
        TokenGrant(json: json, now: now).map { grant in
            Grant(
                accessToken: grant.accessToken, refreshToken: grant.refreshToken, expiresAt: grant.expiresAt,
                scopes: grant.scopes, tokenType: grant.tokenType
            )
        }
    }

    /// What `GitHubInstallationPage` reads of a page of `GET /user/installations`.
    public struct InstallationPage: Sendable {
        public let installations: [(id: Int64, appId: Int64?)]
        public let entryCount: Int
        /// `lists(id, appId:)` for each id and app id asked.
        public let listed: [Bool]
        /// `hasMore(page:)` for each page asked.
        public let hasMore: [Bool]
    }

    /// Pages `oauth.complete` reads at most, and how many installations one holds.
    public static var installationPageLimits: (maxPages: Int, perPage: Int) {
        (GitHubInstallationPage.maxPages, GitHubInstallationPage.perPage)
    }

    /// `GitHubInstallationPage(json:)`, then `lists` for each of `asking` and `hasMore` for each of `pages`.
    public static func installationPage(
        _ json: JSONValue,
        asking: [(id: Int64, appId: Int64?)],
        pages: [Int]
    ) -> InstallationPage? {
        GitHubInstallationPage(json: json).map { page in
            InstallationPage(
                installations: page.installations.map { ($0.id, $0.appId) },
                entryCount: page.entryCount,
                listed: asking.map { page.lists($0.id, appId: $0.appId) },
                hasMore: pages.map { page.hasMore(page: $0) }
            )
        }
    }
}
