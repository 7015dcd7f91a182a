import CredsCore
import CredsProtocol

/// Input: one byte choosing the parser, one choosing the clock, then a provider's reply body.
///
/// Parsers: a token endpoint's answer (`TokenGrant`: Google's code exchange and refresh, GitHub's user token)
/// and a page of GitHub's `GET /user/installations`. A hostile reply must not trap (an `expires_in` of 2^62
/// did), must not be read as something it does not say, and a plausible one must be read as it says.
enum TokenReplyTarget {
    /// `expires_in` values any provider might send, which must be kept exactly: up to 30 days.
    static let plausibleExpiresIn: ClosedRange<Int64> = 0...(30 * 86_400)

    static func run(_ input: [UInt8]) -> FuzzFinding? {
        guard input.count >= 2, let json = try? JSONValue.parse(input.dropFirst(2)) else { return nil }
        let now: Timestamp =
            switch input[1] % 4 {
            case 0: Timestamp(microseconds: 1_767_225_600_000_000)  // 2026-01-01T00:00:00Z
            case 1: Timestamp.now()
            case 2: Timestamp(microseconds: 0)
            default: Timestamp(microseconds: 253_402_300_799_000_000)  // 9999-12-31T23:59:59Z, RFC 3339's last
            }
        switch input[0] % 2 {
        case 0: return tokenGrant(json, now: now)
        default: return installationPage(json)
        }
    }

    static func tokenGrant(_ json: JSONValue, now: Timestamp) -> FuzzFinding? {
        let accessToken = json["access_token"]?.stringValue ?? ""
        let expiresIn = json["expires_in"]
        guard let grant = TokenReplyFuzzEntry.tokenGrant(json, now: now) else {
            guard accessToken.isEmpty || expiresIn?.isNull == false else {
                return FuzzFinding("a reply with an access token and no expires_in was refused")
            }
            if let seconds = expiresIn?.intValue, plausibleExpiresIn.contains(seconds), !accessToken.isEmpty {
                return FuzzFinding("a reply with an access token and expires_in \(seconds) was refused")
            }
            return nil
        }
        guard !accessToken.isEmpty else { return FuzzFinding("a reply without an access token was accepted") }
        guard grant.accessToken == accessToken else {
            return FuzzFinding("the access token read differs from the reply's")
        }
        guard grant.refreshToken?.isEmpty != true else { return FuzzFinding("an empty refresh token was kept") }
        guard grant.scopes?.contains(where: \.isEmpty) != true else { return FuzzFinding("an empty scope was kept") }
        if let seconds = expiresIn?.intValue, plausibleExpiresIn.contains(seconds) {
            guard grant.expiresAt == now + .seconds(seconds) else {
                return FuzzFinding("expires_in \(seconds) was read as another expiry")
            }
        }
        if expiresIn == nil || expiresIn?.isNull == true, grant.expiresAt != nil {
            return FuzzFinding("a reply without expires_in was given an expiry")
        }
        return nil
    }

    static func installationPage(_ json: JSONValue) -> FuzzFinding? {
        let (maxPages, perPage) = TokenReplyFuzzEntry.installationPageLimits
        let entries = json["installations"]?.arrayValue
        let present = (entries ?? []).compactMap { $0["id"]?.intValue }
        let absent = [Int64.min, -1, 0, Int64.max].filter { !present.contains($0) }
        let first = (entries ?? []).prefix(16).compactMap { entry in
            entry["id"]?.intValue.map { ($0, entry["app_id"]?.intValue) }
        }
        let asking =
            first.map { (id: $0.0, appId: $0.1) } + first.map { (id: $0.0, appId: nil) }
            + absent.map { (id: $0, appId: nil) }
        let pages = [1, 2, maxPages - 1, maxPages, maxPages + 1]
        guard let page = TokenReplyFuzzEntry.installationPage(json, asking: asking, pages: pages) else {
            return entries == nil ? nil : FuzzFinding("a page with an installations array was refused")
        }
        guard let entries else { return FuzzFinding("a reply without an installations array was read as a page") }
        guard page.entryCount == entries.count, page.installations.count == present.count else {
            return FuzzFinding(
                "the page holds \(entries.count) entries (\(present.count) with an id), read as \(page.entryCount)")
        }
        let listed = page.listed
        guard listed.prefix(2 * first.count).allSatisfy({ $0 }) else {
            return FuzzFinding("an installation on the page is not listed")
        }
        guard !listed.suffix(absent.count).contains(true) else {
            return FuzzFinding("an installation not on the page is listed")
        }
        guard !page.hasMore[3], !page.hasMore[4] else { return FuzzFinding("more pages after the last one read") }
        guard entries.count >= perPage || !page.hasMore.contains(true) else {
            return FuzzFinding("more pages after a page of \(entries.count) entries")
        }
        return nil
    }
}
