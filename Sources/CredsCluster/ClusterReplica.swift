public import CredsCore
public import CredsProtocol
import Foundation
public import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A host's replica of the cluster (SPEC 10): follows the change feed into LMDB and sends this host's admin
/// writes to PostgreSQL. `run()` holds one dedicated connection that LISTENs for wake-ups and catches up by cursor
/// on each wake-up and every `pollSeconds` (which is also its heartbeat); writes use a pool of up to 4. Any failure
/// closes the connection and reconnects with jittered backoff (at most 30 s); meanwhile resolves keep answering
/// from LMDB and writes are refused.
public final class ClusterReplica: ClusterLink, Sendable {
    private let config: ClusterConfig
    private let database: ClusterDatabase
    private let store: CredsDatabase
    private let logger: Logger
    private let client: PostgresClient
    private let writer: ClusterWriter
    private let feed: ChangeFeed
    private let state: Mutex<ReplicaState>
    /// Wake-ups for the replica loop: notifications, poll ticks, and writes that met a conflict.
    private let wakes = WakeSignal()
    /// When the loop last made progress (a page, a snapshot), for the session's watchdog.
    private let progress = PassClock()
    private let metrics = ClusterMetrics()
    /// The other hosts' built-in use this month, and how far the usage exchange has read (SPEC 12).
    private let usage = Mutex(UsageState())

    private struct UsageState {
        var others = OtherHostsUse()
        /// The newest change read, by the database's clock (microseconds); nil before the first read.
        var cursor: Int64?
        var syncedAt: Timestamp?
        var today = UTCDay(.now())
    }
    /// How long one query or connection attempt may take before the database counts as unreachable.
    private let queryTimeout: Duration
    /// Changes read per page.
    static let pageSize = 1_000

    public init(
        config: ClusterConfig,
        database: ClusterDatabase,
        store: CredsDatabase,
        logger: Logger,
        queryTimeout: Duration = .seconds(5)
    ) throws {
        self.config = config
        self.database = database
        self.store = store
        self.logger = logger
        self.queryTimeout = queryTimeout
        feed = ChangeFeed(hostId: config.hostId.text, logger: logger)
        client = database.makeClient()
        writer = ClusterWriter(
            client: client, feed: feed, hostId: config.hostId.text, url: config.postgres, logger: logger,
            timeout: queryTimeout)
        state = Mutex(ReplicaState(cursor: try store.replicaCursor()))
        try store.startUsageShipping()
    }

    // MARK: ClusterLink

    public func writeRefusal() -> RPCError? {
        guard !state.withLock({ $0.inContact }) else { return nil }
        return RPCError(.storeUnavailable, "the cluster database is unreachable; nothing was changed")
    }

    public func readRefusal() -> RPCError? {
        let limit = config.maxStalenessSeconds
        guard limit > 0 else { return nil }
        let silent = state.withLock { $0.silence() }
        guard silent > .seconds(limit) else { return nil }
        return RPCError(
            .storeUnavailable,
            "this host's replica has been out of contact with the cluster database for over \(limit) s",
            data: ["maxStalenessSeconds": .int(Int64(limit))])
    }

    public func shippedAudit(_ visit: @escaping @Sendable (ShippedAuditRow) throws -> Void) async throws
        -> [String: ShippedAuditHead]
    {
        guard state.withLock({ $0.inContact }) else {
            throw RPCError(.storeUnavailable, "the cluster database is unreachable")
        }
        do {
            return try await withDeadline(queryTimeout * 12, "cluster audit read") { [client, logger] in
                try await client.withConnection { connection in
                    try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                    do {
                        for try await (host, seq, entry, prevHash, hash, workspace) in try await connection.query(
                            """
                            SELECT host_id, seq, entry, prev_hash, hash, workspace_id
                            FROM credsd_audit ORDER BY host_id, seq
                            """,
                            logger: logger
                        ).decode((String, Int64, ByteBuffer, ByteBuffer, ByteBuffer, String?).self) {
                            try visit(
                                ShippedAuditRow(
                                    hostId: host, seq: UInt64(max(0, seq)), bytes: Array(buffer: entry),
                                    prevHash: Array(buffer: prevHash), hash: Array(buffer: hash),
                                    workspaceId: workspace))
                        }
                        var heads: [String: ShippedAuditHead] = [:]
                        for try await (host, seq, hash, gaps) in try await connection.query(
                            "SELECT host_id, seq, hash, gaps FROM credsd_audit_heads", logger: logger
                        ).decode((String, Int64, ByteBuffer, Int64).self) {
                            heads[host] = ShippedAuditHead(
                                seq: UInt64(max(0, seq)), hash: Array(buffer: hash), gaps: gaps)
                        }
                        try await connection.query("COMMIT", logger: logger)
                        return heads
                    } catch {
                        // Not back to the pool inside a read-only snapshot.
                        await connection.rollBackQuietly(logger: logger)
                        throw error
                    }
                }
            }
        } catch let error as RPCError {
            throw error
        } catch {
            logger.warning(
                "cluster audit read failed", metadata: ["cluster.error": "\(ClusterError(error, url: config.postgres))"]
            )
            throw RPCError(.storeUnavailable, "the cluster database could not be read")
        }
    }

    public func shippedAuditEntries(_ query: ShippedAuditQuery) async throws -> [ShippedAuditRow] {
        guard state.withLock({ $0.inContact }) else {
            throw RPCError(
                .storeUnavailable,
                "the cluster database is unreachable; audit.list with this host's hostId still answers")
        }
        do {
            return try await withDeadline(queryTimeout, "cluster audit list") { [client, logger] in
                try await client.withConnection { connection in
                    try await ShippedAuditReader(logger: logger).page(query, on: connection)
                }
            }
        } catch {
            logger.warning(
                "cluster audit list failed", metadata: ["cluster.error": "\(ClusterError(error, url: config.postgres))"]
            )
            throw RPCError(.storeUnavailable, "the cluster database could not be read")
        }
    }

    public var usageSyncedAt: Timestamp? { usage.withLock { $0.syncedAt } }

    public func otherHostsUsage(workspaceId: String, provider: String?, from: UTCDay, to: UTCDay) async throws
        -> [HostUsage]
    {
        guard state.withLock({ $0.inContact }) else {
            throw RPCError(.storeUnavailable, "the cluster database is unreachable: other hosts' usage cannot be read")
        }
        let exchange = UsageExchange(hostId: config.hostId.text, logger: logger)
        do {
            return try await withDeadline(queryTimeout, "cluster usage read") { [client] in
                try await client.withConnection { connection in
                    try await exchange.otherHosts(
                        workspaceId: workspaceId, provider: provider, from: from, to: to, on: connection)
                }
            }
        } catch {
            logger.warning(
                "cluster usage read failed", metadata: ["cluster.error": "\(ClusterError(error, url: config.postgres))"]
            )
            throw RPCError(.storeUnavailable, "the cluster database could not be read")
        }
    }

    public func releaseRefreshLease(_ hold: LeaseHold) async {
        await writer.releaseRefreshLease(hold)
    }

    public func firstSighting(_ digest: [UInt8]) async throws -> Bool {
        guard state.withLock({ $0.inContact }) else {
            throw RPCError(.storeUnavailable, "the cluster database is unreachable")
        }
        return try await writer.firstSighting(digest)
    }

    public func takeRefreshLease(connectionId: Identifier, key: [UInt8], seenVersion: UInt64) async throws
        -> RefreshLease
    {
        guard state.withLock({ $0.inContact }) else {
            throw RPCError(.storeUnavailable, "the cluster database is unreachable")
        }
        let lease = try await writer.takeRefreshLease(connectionId: connectionId, key: key, seenVersion: seenVersion)
        switch lease {
        case .won: metrics.leasesWon.increment()
        case .heldElsewhere: metrics.leasesLost.increment()
        case .outdated: metrics.leasesOutdated.increment()
        }
        return lease
    }

    public func commit(_ changes: [ReplicatedChange], lease: LeaseHold?) async throws -> [UInt64] {
        do {
            let versions = try await writer.commit(changes, lease: lease)
            state.withLock { $0.contact() }
            return versions
        } catch let conflict as ClusterConflict {
            metrics.conflicts.increment()
            throw conflict
        } catch let error as RPCError {
            metrics.writeFailures.increment()
            // The database did not answer a write: refuse the next ones at once until a pass of the replica loop
            // reaches it again (or the loop's watchdog reconnects).
            state.withLock { $0.suspect() }
            throw error
        }
    }

    /// Wakes the replica loop and waits (at most a query timeout) for a pass that started after the call: passes
    /// only ever run in the loop, one at a time, so the cursor is moved by one writer only.
    public func catchUp() async {
        let asked = state.withLock { $0.passesStarted }
        wakes.wake()
        let deadline = ContinuousClock.now + queryTimeout
        while state.withLock({ $0.passesCompleted <= asked }) && ContinuousClock.now < deadline
            && state.withLock({ $0.inContact }) && !Task.isCancelled
        {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    public var status: ClusterStatus { state.withLock { $0.status } }

    public var hostId: String { config.hostId.text }

    /// Whether this replica has ever synced (a cursor is stored).
    public var hasSynced: Bool { state.withLock { $0.cursor != nil } }

    // MARK: Following the feed

    /// Follows the feed until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await self.client.run()
                self.logger.debug("cluster write pool stopped")
            }
            group.addTask {
                await self.follow()
                self.logger.debug("cluster feed follower stopped")
            }
            group.addTask { await self.maintainEvery(Self.maintenanceInterval) }
            group.addTask { await self.shipAuditEvery(.seconds(1)) }
            group.addTask { await self.exchangeUsageEvery(.seconds(1)) }
            await group.next()
            group.cancelAll()
        }
        logger.info("cluster replica stopped")
    }

    /// How often a host offers to do the database's upkeep (one host does it each time).
    static let maintenanceInterval: Duration = .seconds(600)

    /// Offers to do the database's upkeep (`ClusterUpkeep`) every `interval`, first a minute after start; one host
    /// at a time does it.
    private func maintainEvery(_ interval: Duration) async {
        var wait = Duration.seconds(60)
        while !Task.isCancelled {
            try? await Task.sleep(for: wait)
            wait = interval
            guard !Task.isCancelled, state.withLock({ $0.inContact }) else { continue }
            do {
                let upkeep = ClusterUpkeep(hostId: config.hostId.text, logger: logger)
                let report = try await withDeadline(queryTimeout * 12, "cluster upkeep") { [client] in
                    try await client.withConnection { connection in try await upkeep.run(on: connection) }
                }
                if let report { logger.info("cluster upkeep done", metadata: ["cluster.upkeep": "\(report)"]) }
            } catch {
                logger.warning(
                    "cluster upkeep failed", metadata: ["cluster.error": "\(ClusterError(error, url: config.postgres))"]
                )
            }
        }
    }

    /// Exchanges usage with the other hosts every `interval` while the database is reachable (`UsageExchange`),
    /// the first time as soon as it is: this host's stored rows go up (a slice per statement), and the others'
    /// changed rows come back into the budgets' counters, whether the shipment went or not.
    private func exchangeUsageEvery(_ interval: Duration) async {
        let exchange = UsageExchange(hostId: config.hostId.text, logger: logger)
        var first = true
        while !Task.isCancelled {
            if !first { try? await Task.sleep(for: interval) }
            guard !Task.isCancelled, state.withLock({ $0.inContact }) else {
                if first { try? await Task.sleep(for: .milliseconds(50)) }
                continue
            }
            first = false
            await shipUsage(exchange)
            await readOthersUsage(exchange)
        }
    }

    private func shipUsage(_ exchange: UsageExchange) async {
        let shipment: UsageShipment
        do {
            shipment = try store.usageShipment()
        } catch {
            logger.warning("usage not read for the cluster", metadata: ["store.error": "\(error)"])
            return
        }
        guard !shipment.rows.isEmpty else { return }
        do {
            var start = shipment.rows.startIndex
            while start < shipment.rows.endIndex {
                let end = min(start + UsageExchange.shipSlice, shipment.rows.endIndex)
                let slice = shipment.rows[start..<end]
                try await withDeadline(queryTimeout, "cluster usage shipping") { [client] in
                    try await client.withConnection { connection in try await exchange.ship(slice, on: connection) }
                }
                start = end
            }
        } catch {
            // Rows written before the failure go again: the database keeps the one with the most counts.
            store.usageShipmentFailed(shipment)
            logger.warning(
                "usage shipping failed; this host's figures go with the next",
                metadata: ["cluster.error": "\(ClusterError(error, url: config.postgres))"])
        }
    }

    private func readOthersUsage(_ exchange: UsageExchange) async {
        let today = UTCDay(.now())
        let cursor = usage.withLock { $0.cursor }
        do {
            let (rows, newest) = try await withDeadline(queryTimeout, "cluster usage read") { [client] in
                try await client.withConnection { connection in
                    try await exchange.others(since: cursor, today: today, on: connection)
                }
            }
            let changed = usage.withLock { usage -> [(OtherHostsUse.Key, WindowUse)] in
                var touched = usage.others.apply(rows, today: today)
                if usage.today.monthNumber != today.monthNumber {
                    touched.formUnion(usage.others.forget(before: today))
                }
                usage.today = today
                if let newest { usage.cursor = max(usage.cursor ?? newest, newest) }
                usage.syncedAt = .now()
                return touched.map { ($0, usage.others.sums($0, today: today)) }
            }
            for (key, sums) in changed {
                store.setOtherHostsUse(workspaceId: key.workspaceId, provider: key.provider, sums)
            }
        } catch {
            logger.warning(
                "reading the other hosts' usage failed; budgets count them as last read",
                metadata: ["cluster.error": "\(ClusterError(error, url: config.postgres))"])
        }
    }

    /// Ships the audit chain every `interval` while the database is reachable (batches back to back while there is
    /// a backlog); entries stay in LMDB until shipped.
    private func shipAuditEvery(_ interval: Duration) async {
        let shipper = AuditShipper(hostId: config.hostId.text, logger: logger)
        var reported: String?
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled, state.withLock({ $0.inContact }) else { continue }
            do {
                while !Task.isCancelled {
                    let shipment = try store.auditShipment(limit: AuditShipper.batch)
                    state.withLock {
                        $0.auditBacklog = Int64(clamping: shipment.head) - Int64(clamping: shipment.shipped)
                    }
                    guard !shipment.entries.isEmpty else {
                        if let seq = shipment.unreadable {
                            let reason =
                                "audit shipping stopped: entry \(seq) on this host cannot be read (audit.verify names it)"
                            state.withLock { $0.auditProblem = reason }
                            if reported != reason {
                                reported = reason
                                logger.error(
                                    "audit shipping stopped: an entry on this host cannot be read (audit.verify names it)",
                                    metadata: ["cluster.seq": "\(seq)"])
                            }
                        }
                        break
                    }
                    let outcome = try await withDeadline(queryTimeout, "cluster audit shipping") { [client] in
                        try await client.withConnection { connection in
                            try await shipper.ship(shipment.entries, shipped: shipment.shipped, on: connection)
                        }
                    }
                    switch outcome {
                    case .shipped(let seq):
                        try await store.markAuditShipped(through: seq)
                        metrics.auditShipped.increment(by: Int64(shipment.entries.count))
                        state.withLock { $0.auditProblem = nil }
                        reported = nil
                    case .behind(let seq):
                        logger.warning(
                            "the cluster database holds less of this host's audit chain than it shipped (a restore, or entries removed there): shipping again after the entry it holds",
                            metadata: ["cluster.seq": "\(seq)", "cluster.shipped": "\(shipment.shipped)"])
                        try await store.rewindAuditShipped(to: seq)
                        continue
                    case .refused(let reason):
                        state.withLock {
                            $0.auditProblem = "the cluster database refuses this host's audit chain: \(reason)"
                        }
                        if reported != reason {
                            reported = reason
                            logger.error(
                                "audit shipping refused: this host's chain does not continue what its host id shipped",
                                metadata: ["cluster.reason": "\(reason)", "cluster.hostId": "\(config.hostId)"])
                        }
                    }
                    guard case .shipped = outcome, shipment.entries.count == AuditShipper.batch else { break }
                }
            } catch {
                logger.warning(
                    "audit shipping failed; entries stay on this host",
                    metadata: ["cluster.error": "\(ClusterError(error, url: config.postgres))"])
            }
        }
    }

    private func follow() async {
        while !Task.isCancelled {
            do {
                try await session()
            } catch {
                if Task.isCancelled { return }
                let failures = state.withLock { $0.lostContact() }
                metrics.reconnects.increment()
                let delay = Self.backoff(failures: failures)
                logger.warning(
                    "cluster database unreachable: serving from the replica, refusing writes",
                    metadata: [
                        "cluster.error": "\(ClusterError(error, url: config.postgres))",
                        "retry.seconds": "\(delay.components.seconds)",
                    ])
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// 0.25 s doubling per failure up to 30 s, each time a random 50-100 % of it (hosts do not reconnect in step).
    static func backoff(failures: Int) -> Duration {
        let ceiling = min(30.0, 0.25 * pow(2.0, Double(min(failures, 16) - 1)))
        return .milliseconds(Int64(ceiling * Double.random(in: 0.5...1.0) * 1000))
    }

    /// One connection's life: LISTEN, then catch up on every wake-up and poll tick, until something fails. A
    /// watchdog closes the connection when the loop made no progress (a page, a snapshot, a pass) for
    /// `pollSeconds` plus a query timeout (a frozen database answers nothing, not even LISTEN), which fails
    /// whatever waits on it.
    private func session() async throws {
        let connection = try await withDeadline(queryTimeout, "cluster connect") { [database] in
            try await database.connect()
        }
        do {
            try await withDeadline(queryTimeout, "cluster schema") { [self] in
                try await checkSchema(on: connection)
            }
        } catch {
            Task { try? await connection.close() }
            throw error
        }
        progress.mark()
        let poll = Duration.seconds(config.pollSeconds)
        let patience = poll + queryTimeout
        do {
            // Cancelled (the daemon stops): the connection is closed at once. A query in flight ignores
            // cancellation, and one in flight while the notification stream is cancelled was seen to never
            // complete on an open connection (the loop then never stopped); closing fails it.
            try await withTaskCancellationHandler {
                try await followOn(connection, poll: poll, patience: patience)
            } onCancel: {
                Task { try? await connection.close() }
            }
        } catch {
            Task { try? await connection.close() }
            throw error
        }
    }

    /// Refuses a database whose schema is not the one this build uses: older (run `credsd cluster init`: the
    /// replica would fail on tables that are not there, and webhook or audit checks with it) or newer.
    private func checkSchema(on connection: PostgresConnection) async throws {
        var version = 0
        for try await found in try await connection.query(
            "SELECT coalesce(max(version), 0)::int8 FROM credsd_schema", logger: logger
        ).decode(Int64.self) {
            version = Int(found)
        }
        guard version == ClusterSchema.currentVersion else {
            throw ClusterError(
                code: version > ClusterSchema.currentVersion ? .schemaTooNew : .server, url: config.postgres,
                problem:
                    "the schema is at version \(version); this credsd uses \(ClusterSchema.currentVersion)"
                    + (version < ClusterSchema.currentVersion ? ": run credsd cluster init" : ""))
        }
    }

    /// The session's work on its connection: LISTEN and follow, beside the watchdog.
    private func followOn(_ connection: PostgresConnection, poll: Duration, patience: Duration) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // LISTEN needs no deadline of its own: it is written with a promise, which a close fails, and the
                // watchdog closes a silent connection.
                try await connection.listen(on: ClusterWriter.channel) { notifications in
                    try await self.follow(connection, notifications: notifications, poll: poll)
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .milliseconds(250))
                    if self.progress.sinceLast > patience {
                        self.logger.warning(
                            "cluster database silent: closing the replica's connection",
                            metadata: ["cluster.silentSeconds": "\(self.progress.sinceLast.components.seconds)"])
                        throw DeadlineExceeded(what: "cluster heartbeat")
                    }
                }
            }
            defer { group.cancelAll() }
            do {
                try await group.next()
            } catch {
                // Closed before the group waits for its children: a child stuck on the frozen connection
                // (queries do not answer cancellation) fails only when the connection closes.
                Task { try? await connection.close() }
                throw error
            }
        }
    }

    /// Catches up once at once, then on every notification, poll tick and conflicting write.
    private func follow(
        _ connection: PostgresConnection,
        notifications: PostgresNotificationSequence,
        poll: Duration
    ) async throws {
        let wakes = self.wakes.stream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await _ in notifications { self.wakes.wake() }
                throw ClusterError(code: .unreachable, url: self.config.postgres, problem: "the connection closed")
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: poll)
                    self.wakes.wake()
                }
            }
            group.addTask {
                self.wakes.wake()
                var first = true
                for await _ in wakes {
                    try Task.checkCancellation()
                    self.state.withLock { $0.passStarted() }
                    while try await self.catchUpPass(on: connection) == .more {}
                    self.progress.mark()
                    self.state.withLock { $0.passCompleted() }
                    if first {
                        first = false
                        self.logger.info(
                            "cluster database reached: following its change feed",
                            metadata: ["cluster.seq": "\(self.status.seq)"])
                    }
                }
            }
            defer {
                group.cancelAll()
                // The session is over whichever child ended first: closing its connection now fails a query still
                // in flight on it (a query ignores cancellation; measured: a catch-up pass cancelled at SIGTERM
                // just as the notification stream ended could wait forever), so the group's wait for its
                // children ends.
                Task { try? await connection.close() }
            }
            try await group.next()
        }
    }

    enum PassOutcome { case more, caughtUp }

    /// Reads one page after the cursor and applies it with the cursor in one LMDB transaction; resyncs instead on
    /// a hole, another epoch, a head behind the cursor, or another change at the cursor's number.
    private func catchUpPass(on connection: PostgresConnection) async throws -> PassOutcome {
        let cursor = state.withLock { $0.cursor }
        let from = cursor?.seq ?? 0
        let page: FeedPage
        do {
            // Bounded: a statement written after the connection closed is dropped unanswered by PostgresNIO 1.33
            // (its query is written without a promise; vapor/postgres-nio#487 fixed that and was reverted), and
            // the session then waited on it forever, "connected" to a database that was gone. The watchdog's
            // close can come between any two statements of a page.
            page = try await withDeadline(queryTimeout, "cluster feed read") { [feed] in
                try await feed.read(after: from, limit: Self.pageSize, on: connection)
            }
        } catch let hole as FeedHole {
            try await resync(on: connection, because: "a hole in the feed after \(from) (at \(hole.expected))")
            return .caughtUp
        }
        if let cursor {
            let epoch = page.epoch.uuidString.lowercased()
            if cursor.epoch != epoch {
                try await resync(on: connection, because: "the database's epoch changed (restored or replaced)")
                return .caughtUp
            }
            if page.head < cursor.seq {
                try await resync(
                    on: connection, because: "the feed's head \(page.head) is behind this replica's \(cursor.seq)")
                return .caughtUp
            }
            if cursor.seq > 0, let mark = page.markAtCursor, mark != cursor.mark {
                try await resync(on: connection, because: "the change at \(cursor.seq) is not the one applied")
                return .caughtUp
            }
        } else {
            // Never synced: a snapshot is quicker than the whole feed, and the feed may have been pruned.
            try await resync(on: connection, because: "first start")
            return .caughtUp
        }
        guard let last = page.entries.last else {
            state.withLock { $0.caughtUp(head: page.head) }
            return .caughtUp
        }
        progress.mark()
        var latest: [RowKey: ReplicatedRow] = [:]
        for entry in page.entries {
            guard let entity = ReplicatedEntity(rawValue: entry.change.entity.rawValue), let record = entry.record
            else { continue }
            let row = ReplicatedRow(
                entity: entity, key: entry.change.key, version: UInt64(max(0, record.version)), value: record.value,
                fromThisHost: record.hostId == config.hostId.text)
            let key = RowKey(entity: entity, key: entry.change.key)
            if (latest[key]?.version ?? 0) < row.version { latest[key] = row }
        }
        let next = ReplicaCursor(seq: last.seq, epoch: page.epoch.uuidString.lowercased(), mark: last.committedAt)
        let outcome = try await store.applyFeedPage(Array(latest.values), from: from, cursor: next)
        report(outcome.refused)
        guard outcome.moved else {
            // Only this loop moves the cursor; a stored cursor elsewhere means the state here is behind: read it.
            let stored = try store.replicaCursor()
            state.withLock { $0.cursor = stored }
            return .caughtUp
        }
        state.withLock { $0.applied(next, head: page.head) }
        metrics.changesApplied.increment(by: Int64(page.entries.count))
        return last.seq < page.head ? .more : .caughtUp
    }

    /// Logs rows applied closed (they do not decode, name another key, carry an impossible revision); `health`
    /// lists how many since the last resync.
    private func report(_ refused: [ReplicatedRow]) {
        guard !refused.isEmpty else { return }
        state.withLock { $0.refused(refused.count) }
        metrics.unreadable.increment(by: Int64(refused.count))
        for row in refused.prefix(10) {
            logger.error(
                "a record from the cluster database cannot be read: not served on this host",
                metadata: [
                    "cluster.entity": "\(row.entity.rawValue)", "cluster.version": "\(row.version)",
                    "cluster.key.bytes": "\(row.key.count)",
                ])
        }
    }

    private struct RowKey: Hashable {
        let entity: ReplicatedEntity
        let key: [UInt8]
    }

    /// Replaces the replica with one repeatable-read snapshot of every record, cursor at the snapshot's head.
    private func resync(on connection: PostgresConnection, because reason: String) async throws {
        logger.notice("cluster replica resyncing", metadata: ["cluster.reason": "\(reason)"])
        metrics.resyncs.increment()
        state.withLock { $0.resyncing() }
        let started = ContinuousClock.now
        // Bounded by a stall limit rather than a total: a large snapshot streams as long as it needs to. The read
        // has a clock of its own (nothing else can push its limit back), and marks the session's for the watchdog.
        let reading = PassClock()
        let snapshot = try await withDeadline(queryTimeout, stalled: reading, "cluster snapshot read") {
            try await self.readSnapshot(on: connection, marking: reading)
        }
        progress.mark()
        let refused = try await store.resync(snapshot.rows, cursor: snapshot.cursor)
        state.withLock { $0.resynced() }
        report(refused)
        state.withLock { $0.applied(snapshot.cursor, head: snapshot.cursor.seq) }
        logger.notice(
            "cluster replica resynced",
            metadata: [
                "cluster.records": "\(snapshot.rows.count)", "cluster.seq": "\(snapshot.cursor.seq)",
                "duration": "\(ContinuousClock.now - started)",
            ])
    }

    /// Every record, and the cursor at the feed's head, from one repeatable-read snapshot on `connection`; marks
    /// `reading` (and the session's watchdog clock) as rows come.
    private func readSnapshot(on connection: PostgresConnection, marking reading: PassClock) async throws
        -> (rows: [ReplicatedRow], cursor: ReplicaCursor)
    {
        try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
        do {
            var head: (seq: Int64, epoch: UUID)?
            for try await (seq, epoch) in try await connection.query(
                "SELECT seq, epoch FROM credsd_feed_head WHERE id = 1", logger: logger
            ).decode((Int64, UUID).self) {
                head = (seq, epoch)
            }
            guard let head else {
                throw ClusterError(
                    code: .server, url: config.postgres, problem: "no feed head: run credsd cluster init")
            }
            guard head.seq >= 0, head.seq < Int64.max / 2 else { throw FeedOutOfRange(cursor: head.seq) }
            var mark: Int64 = 0
            for try await value in try await connection.query(
                "SELECT \(unescaped: ChangeFeed.micros("committed_at")) FROM credsd_changes WHERE seq = \(head.seq)",
                logger: logger
            ).decode(Int64.self) {
                mark = value
            }
            var rows: [ReplicatedRow] = []
            for try await (entity, key, version, value) in try await connection.query(
                "SELECT entity, key, version, value FROM credsd_records", logger: logger
            ).decode((String, ByteBuffer, Int64, ByteBuffer?).self) {
                if rows.count % 1_000 == 0 {
                    reading.mark()
                    progress.mark()
                }
                guard let entity = ReplicatedEntity(rawValue: entity) else { continue }
                rows.append(
                    ReplicatedRow(
                        entity: entity, key: Array(buffer: key), version: UInt64(max(1, version)),
                        value: value.map { Array(buffer: $0) }))
            }
            try await connection.query("COMMIT", logger: logger)
            return (rows, ReplicaCursor(seq: head.seq, epoch: head.epoch.uuidString.lowercased(), mark: mark))
        } catch {
            await connection.rollBackQuietly(logger: logger)
            throw error
        }
    }
}
