/// What a principal may do in a workspace.
public enum MemberRole: String, Sendable, Codable, CaseIterable {
    case read, write, none

    /// Whether this role allows reads.
    public var canRead: Bool { self == .read || self == .write }
    /// Whether this role allows writes.
    public var canWrite: Bool { self == .write }
}
