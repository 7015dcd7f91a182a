/// The kinds of events credsd records (SPEC 11).
public enum EventType: String, Sendable, Codable, CaseIterable {
    case connectionCreated = "connection.created"
    case connectionStatusChanged = "connection.status_changed"
    case connectionReauthRequired = "connection.reauth_required"
    case connectionRefreshFailed = "connection.refresh_failed"
    case connectionRecovered = "connection.recovered"
    case connectionCoolingDown = "connection.cooling_down"
    case policyChanged = "policy.changed"
    case budgetThreshold = "budget.threshold"
}
