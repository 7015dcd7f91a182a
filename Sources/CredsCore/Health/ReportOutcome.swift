/// What a provider answered a call made with a resolved credential (`resolve.report`, SPEC 11).
enum ReportOutcome: String, Sendable {
    case ok
    /// 401 or 403.
    case unauthorized
    /// 429.
    case rateLimited = "rate_limited"
    case quotaExceeded = "quota_exceeded"
    /// 5xx, timeouts.
    case upstreamError = "upstream_error"

    /// Whether the outcome starts a cooldown.
    var coolsDown: Bool {
        switch self {
        case .rateLimited, .quotaExceeded, .upstreamError: true
        case .ok, .unauthorized: false
        }
    }
}
