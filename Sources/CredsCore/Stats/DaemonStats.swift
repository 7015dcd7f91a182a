import CoreMetrics
import CredsProtocol
import Synchronization

/// The daemon's figures: kept here for `stats`, and mirrored to swift-metrics (Prometheus) as they happen.
/// Only names from fixed sets are recorded (method names of the catalog of methods, reasons, provider ids),
/// so nothing a client sends can put a secret, or unbounded labels, into the figures.
public final class DaemonStats: Sendable {
    /// A count and the metric that mirrors it.
    private struct Tally {
        var count: Int64 = 0
        let counter: Counter
    }

    private struct State {
        /// By method, then outcome: looked up by the two names, so counting a request builds no string.
        var requests: [String: [String: Tally]] = [:]
        var resolveLatency = LatencyHistogram()
        /// By provider, then source.
        var resolutions: [String: [String: Tally]] = [:]
        var refreshes: [String: Tally] = [:]
        var open: [String: Int64] = [:]
    }

    private let state = Mutex(State())
    private let resolveTimer = Timer(label: "credsd_resolve_duration_seconds")
    private let openGauges = [
        "resolve": Gauge(label: "credsd_open_connections", dimensions: [("socket", "resolve")]),
        "admin": Gauge(label: "credsd_open_connections", dimensions: [("socket", "admin")]),
    ]
    private let uptimeGauge = Gauge(label: "credsd_uptime_seconds")
    private let storeGauge = Gauge(label: "credsd_store_bytes")
    private let clusterSeqGauge = Gauge(label: "credsd_cluster_seq")
    private let clusterLagGauge = Gauge(label: "credsd_cluster_lag_seconds")
    private let clusterConnectedGauge = Gauge(label: "credsd_cluster_connected")
    private let clusterAuditBacklogGauge = Gauge(label: "credsd_cluster_audit_backlog")
    let startedAt = Timestamp.now()

    public init() {}

    /// One answered request; `method` must be a known method name (else pass "unknown").
    public func recordRequest(method: String, outcome: String, micros: Int64) {
        let counter = state.withLock { state -> Counter in
            if method == "resolve" { state.resolveLatency.record(micros: micros) }
            return Self.count(&state.requests[method, default: [:]], outcome) {
                Counter(label: "credsd_requests_total", dimensions: [("method", method), ("reason", outcome)])
            }
        }
        counter.increment()
        if method == "resolve" { resolveTimer.recordNanoseconds(micros * 1_000) }
    }

    /// A successful resolution: which provider, and whether the workspace's key or the platform's paid for it.
    public func recordResolution(provider: String, source: String) {
        state.withLock { state -> Counter in
            Self.count(&state.resolutions[provider, default: [:]], source) {
                Counter(label: "credsd_resolutions_total", dimensions: [("provider", provider), ("source", source)])
            }
        }.increment()
    }

    /// An OAuth refresh or installation-token mint: `ok`, `reauth_required` or `failed`.
    func recordRefresh(_ outcome: String) {
        state.withLock { state -> Counter in
            Self.count(&state.refreshes, outcome) {
                Counter(label: "credsd_oauth_refreshes_total", dimensions: [("outcome", outcome)])
            }
        }.increment()
    }

    public func connectionOpened(socket: String) { adjustOpen(socket, by: 1) }
    public func connectionClosed(socket: String) { adjustOpen(socket, by: -1) }

    private func adjustOpen(_ socket: String, by delta: Int64) {
        let value = state.withLock { state -> Int64 in
            state.open[socket, default: 0] += delta
            return state.open[socket, default: 0]
        }
        openGauges[socket]?.record(value)
    }

    /// Sets the gauges that are read rather than counted: uptime and store size, and in cluster mode the feed
    /// position applied, the replica's lag and whether it is connected.
    public func refreshGauges(storeBytes: Int64, cluster: ClusterStatus? = nil) {
        uptimeGauge.record(Timestamp.now().seconds(since: startedAt))
        storeGauge.record(storeBytes)
        if let cluster {
            clusterSeqGauge.record(cluster.seq)
            clusterLagGauge.record(cluster.lagSeconds)
            clusterConnectedGauge.record(cluster.state == .connected ? 1 : 0)
            clusterAuditBacklogGauge.record(cluster.auditBacklog)
        }
    }

    /// The `stats` answer.
    func snapshot(storeBytes: Int64, mapBytes: Int64) -> JSONValue {
        refreshGauges(storeBytes: storeBytes)
        return state.withLock { state in
            let total = state.requests.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } }
            let histogram = state.resolveLatency
            return [
                "uptimeSeconds": .int(Timestamp.now().seconds(since: startedAt)),
                "requests": [
                    "total": .int(total),
                    "byMethod": .object(state.requests.mapValues { .object($0.mapValues { .int($0.count) }) }),
                ],
                "resolveLatencyMicros": [
                    "count": .int(histogram.total), "p50": .int(histogram.percentile(0.5)),
                    "p90": .int(histogram.percentile(0.9)), "p99": .int(histogram.percentile(0.99)),
                    "p999": .int(histogram.percentile(0.999)), "max": .int(histogram.maxMicros),
                ],
                "resolutions": .object(state.resolutions.mapValues { .object($0.mapValues { .int($0.count) }) }),
                "oauthRefreshes": .object(state.refreshes.mapValues { .int($0.count) }),
                "openConnections": [
                    "resolve": .int(state.open["resolve"] ?? 0), "admin": .int(state.open["admin"] ?? 0),
                ],
                "store": ["usedBytes": .int(storeBytes), "mapBytes": .int(mapBytes)],
            ]
        }
    }

    /// Counts one under `key`, making its metric the first time; the metric to increment.
    private static func count(_ tallies: inout [String: Tally], _ key: String, make: () -> Counter) -> Counter {
        if tallies[key] == nil { tallies[key] = Tally(counter: make()) }
        tallies[key]!.count += 1
        return tallies[key]!.counter
    }
}
