import CredsProtocol

/// An event before the outbox numbers it.
struct EventDraft: Sendable {
    var type: EventType
    var workspaceId: Identifier
    var provider: Identifier?
    var connectionId: Identifier?
    var from: String?
    var to: String?
    var reason: String
    var detail: String?

    /// The events a connection write makes: `connection.created` for a new connection; `connection.status_changed`
    /// for a new status, with `connection.recovered` when it leaves `error` for `active` and
    /// `connection.reauth_required` when an OAuth connection enters `error`. Nothing for other changes (a token
    /// refresh, a rename).
    static func connectionChanges(from previous: ConnectionRecord?, to record: ConnectionRecord) -> [EventDraft] {
        func draft(_ type: EventType, from: String?, reason: String) -> EventDraft {
            EventDraft(
                type: type, workspaceId: record.workspaceId, provider: record.provider, connectionId: record.id,
                from: from, to: record.status.rawValue, reason: reason, detail: record.lastError)
        }
        guard let previous else {
            return [draft(.connectionCreated, from: nil, reason: record.statusReason ?? "created")]
        }
        guard previous.status != record.status else { return [] }
        let reason = record.statusReason ?? record.status.rawValue
        var drafts = [draft(.connectionStatusChanged, from: previous.status.rawValue, reason: reason)]
        if previous.status == .error, record.status == .active {
            drafts.append(draft(.connectionRecovered, from: previous.status.rawValue, reason: reason))
        }
        if record.status == .error, record.mode == .oauthUser {
            drafts.append(draft(.connectionReauthRequired, from: previous.status.rawValue, reason: reason))
        }
        return drafts
    }

    /// A fallback to the platform key that ended (SPEC 12): the connection serves its workspace's resolves again.
    /// `connection.recovered`, from `built_in` to `byo`.
    static func fallbackEnded(_ connection: ConnectionRecord, reason: String) -> EventDraft {
        EventDraft(
            type: .connectionRecovered, workspaceId: connection.workspaceId, provider: connection.provider,
            connectionId: connection.id, from: CredentialSource.builtIn.rawValue, to: CredentialSource.byo.rawValue,
            reason: reason,
            detail: "the connection's cooldown ended: resolves use it again instead of the platform's key")
    }
}
