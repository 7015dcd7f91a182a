import CredsProtocol

/// One page of GitHub's `GET /user/installations`: the installations of our app the authorizing user can
/// access. `oauth.complete` accepts a browser-supplied installation id only if some page lists it.
struct GitHubInstallationPage: Sendable, Equatable {
    /// Installations asked for per page (GitHub's maximum).
    static let perPage = 100
    /// Pages read at most (10,000 installations): a provider that keeps answering full pages cannot keep
    /// credsd asking for ever.
    static let maxPages = 100

    struct Installation: Sendable, Equatable {
        let id: Int64
        let appId: Int64?
    }

    let installations: [Installation]
    let totalCount: Int64?
    /// Entries on the page, including any skipped.
    let entryCount: Int

    /// Reads `{"total_count": N, "installations": [{"id": 1, "app_id": 2, ...}, ...]}`; nil when the reply is
    /// not shaped like that. Entries without a numeric id are skipped.
    init?(json: JSONValue) {
        guard let list = json["installations"]?.arrayValue else { return nil }
        installations = list.compactMap { entry in
            guard let id = entry["id"]?.intValue else { return nil }
            return Installation(id: id, appId: entry["app_id"]?.intValue)
        }
        totalCount = json["total_count"]?.intValue
        entryCount = list.count
    }

    /// Whether this page lists `installationId` for the app `appId` (any app when GitHub leaves `app_id` out).
    func lists(_ installationId: Int64, appId: Int64?) -> Bool {
        installations.contains { installation in
            installation.id == installationId
                && (appId == nil || installation.appId == nil || installation.appId == appId)
        }
    }

    /// Whether a page after this one (number `page`, 1-based) may list more.
    func hasMore(page: Int) -> Bool {
        guard entryCount >= Self.perPage, page < Self.maxPages else { return false }
        guard let totalCount else { return true }
        let seen = Int64(page) * Int64(Self.perPage)
        return seen < totalCount
    }
}
