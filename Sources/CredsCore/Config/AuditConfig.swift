/// `[audit]` (an extension of the contract's configuration): how many audit entries are kept.
public struct AuditConfig: Sendable, Equatable {
    /// Entries kept; the oldest are trimmed and the oldest kept entry anchors `audit.verify`.
    public var maxEntries = 1_000_000

    public init() {}
}
