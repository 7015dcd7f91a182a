import CredsProtocol
import CredsStore

/// Policies are written through here, by `policy.set` and by a cluster replica applying another host's, so that
/// every change of a workspace's routing for a provider is a `policy.changed` event (SPEC 11).
extension CredsDatabase {
    /// Stores `value` as the policy under `key` (`workspaceId NUL provider`), with an event when it differs.
    func putPolicy(
        _ txn: borrowing Transaction,
        key: [UInt8],
        value: [UInt8],
        events recording: EventRecording = .local
    ) throws {
        let previous = try txn.get(policies, key)
        try txn.put(policies, key, value)
        guard recording != .off, previous != value, let separator = key.firstIndex(of: 0) else { return }
        let workspace = String(decoding: key[..<separator], as: UTF8.self)
        let provider = String(decoding: key[(separator + 1)...], as: UTF8.self)
        let from = Self.describe(RoutingPolicy(stored: previous))
        let to = Self.describe(RoutingPolicy(stored: value))
        try events.append(
            txn,
            [
                EventDraft(
                    type: .policyChanged, workspaceId: Identifier(stored: workspace),
                    provider: Identifier(stored: provider), connectionId: nil, from: from, to: to,
                    reason: "policy_set", detail: "routing for \(provider) changed from \(from) to \(to)")
            ], local: recording == .local)
    }

    /// `auto`, or `auto (fallback on rate_limited, upstream_error)`.
    private static func describe(_ policy: RoutingPolicy) -> String {
        policy.fallbackOn.isEmpty
            ? policy.mode.rawValue
            : "\(policy.mode.rawValue) (fallback on \(policy.fallbackOn.joined(separator: ", ")))"
    }
}
