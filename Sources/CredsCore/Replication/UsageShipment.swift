public import CredsProtocol

/// This host's usage rows stored since the cluster database last took them (SPEC 12): each row the host's whole
/// figures for a workspace, provider and day, written over its previous row there (so a retry counts nothing
/// twice).
public struct UsageShipment: Sendable {
    public struct Row: Sendable {
        public let workspaceId: String
        public let provider: String
        public let day: UTCDay
        /// The day's counts as JSON, as `usage.get` answers them.
        public let counts: [UInt8]
        public let builtInResolves: Int64
        public let builtInUnits: Int64
        /// The sum of every count: the database keeps the row with the most (a retry that lands late is older).
        public let weight: Int64
    }

    public let rows: [Row]
    let keys: Set<UsageLedger.ShipKey>
}

/// Another host's figures for a workspace, provider and day, as read from the cluster database.
public struct HostUsage: Sendable {
    public let workspaceId: String
    public let provider: String
    public let day: UTCDay
    public let hostId: String
    public let counts: [UInt8]
    public let builtInResolves: Int64
    public let builtInUnits: Int64

    public init(
        workspaceId: String, provider: String, day: UTCDay, hostId: String, counts: [UInt8], builtInResolves: Int64,
        builtInUnits: Int64
    ) {
        self.workspaceId = workspaceId
        self.provider = provider
        self.day = day
        self.hostId = hostId
        self.counts = counts
        self.builtInResolves = builtInResolves
        self.builtInUnits = builtInUnits
    }
}
