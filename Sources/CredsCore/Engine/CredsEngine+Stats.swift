public import CredsProtocol

extension CredsEngine {
    /// `stats`: request counts by method and reason, resolve latency percentiles, resolutions by provider and
    /// source, OAuth refreshes by outcome, open connections, store size. No secret, no client-chosen label.
    public func stats(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        _ = try Params(raw, allowed: [])
        return statistics.snapshot(
            storeBytes: Int64(database.environment.usedBytes), mapBytes: Int64(database.environment.currentMapSize)
        )
    }
}
