import CredsProtocol

/// The useful part of a token endpoint's JSON answer.
struct TokenGrant: Sendable {
    let accessToken: String
    let refreshToken: String?
    let expiresAt: Timestamp?
    let scopes: [String]?
    let tokenType: String

    /// Longest `expires_in` taken from a provider: a year. Real ones are an hour (Google) or eight (GitHub).
    static let maxExpiresInSeconds: Int64 = 366 * 86_400

    /// Reads `{access_token, expires_in, refresh_token?, scope?, token_type?}`; nil for a reply that is not
    /// one, including an `expires_in` that is not a whole number of seconds from 0 to a year (a hostile reply
    /// of 2^62 used to trap the daemon on overflow).
    init?(json: JSONValue, now: Timestamp) {
        guard let accessToken = json["access_token"]?.stringValue, !accessToken.isEmpty else { return nil }
        self.accessToken = accessToken
        refreshToken = json["refresh_token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        switch json["expires_in"] {
        case nil, .null:
            expiresAt = nil
        case .some(let value):
            guard let seconds = value.intValue ?? value.stringValue.flatMap({ Int64($0) }),
                (0...Self.maxExpiresInSeconds).contains(seconds)
            else { return nil }
            guard let expiry = now.adding(.seconds(seconds)) else { return nil }
            expiresAt = expiry
        }
        scopes = json["scope"]?.stringValue.map {
            $0.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        }
        tokenType = json["token_type"]?.stringValue ?? "Bearer"
    }
}
