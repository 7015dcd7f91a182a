import CoreMetrics

/// Cluster mode's counters for the metrics listener (the gauges, read at each scrape, are in `DaemonStats`). No
/// label a caller chooses: no workspace, no host id.
struct ClusterMetrics: Sendable {
    /// Sessions that failed (the database went away, a watchdog fired) and were started again.
    let reconnects = Counter(label: "credsd_cluster_reconnects_total")
    /// Full resyncs from a snapshot (first start, hole, epoch, rewind).
    let resyncs = Counter(label: "credsd_cluster_resyncs_total")
    /// Writes that met another host's write of the same record and started over.
    let conflicts = Counter(label: "credsd_cluster_write_conflicts_total")
    /// Writes refused or abandoned because the database did not answer.
    let writeFailures = Counter(label: "credsd_cluster_write_failures_total")
    /// Changes applied from the feed (pages, not snapshots).
    let changesApplied = Counter(label: "credsd_cluster_changes_applied_total")
    /// Refresh leases taken by this host, and found held by another or already outdated.
    let leasesWon = Counter(label: "credsd_cluster_refresh_leases_total", dimensions: [("outcome", "won")])
    let leasesLost = Counter(label: "credsd_cluster_refresh_leases_total", dimensions: [("outcome", "held_elsewhere")])
    let leasesOutdated = Counter(label: "credsd_cluster_refresh_leases_total", dimensions: [("outcome", "outdated")])
    /// Audit entries shipped to the database.
    let auditShipped = Counter(label: "credsd_cluster_audit_shipped_total")
    /// Rows from the database that could not be read and were applied closed.
    let unreadable = Counter(label: "credsd_cluster_unreadable_records_total")
}
