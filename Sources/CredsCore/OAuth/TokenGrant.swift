import CredsProtocol

/// The useful part of a token endpoint's JSON answer.
struct TokenGrant: Sendable {
    let accessToken: String
    let refreshToken: String?
    /// Microseconds since the epoch.
    let expiresAt: Int64?
    let scopes: [String]?
    let tokenType: String

    /// Reads `{access_token, expires_in, refresh_token?, scope?, token_type?}`.
    init?(json: JSONValue, now: Int64) {
        guard let accessToken = json["access_token"]?.stringValue, !accessToken.isEmpty else { return nil }
        self.accessToken = accessToken
        refreshToken = json["refresh_token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        expiresAt = json["expires_in"]?.intValue.map { now + $0 * 1_000_000 }
        scopes = json["scope"]?.stringValue.map { $0.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init) }
        tokenType = json["token_type"]?.stringValue ?? "Bearer"
    }
}
