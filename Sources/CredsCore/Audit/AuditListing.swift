import CredsProtocol

/// One page of `audit.list`. A single host lists its chain. In cluster mode (SPEC 10) every entry names its host:
/// with this host's `hostId` the page comes from LMDB (shipped or not, so it answers through an outage); with
/// another host's, from that host's shipped chain in PostgreSQL; without `hostId`, from every host, this one's
/// from LMDB and the others' shipped entries, merged by (seq, hostId). `since` is then a number on every host's
/// chain at once, and a page ends after the last entry with its last number (so the next page, `since` =
/// `nextSince`, misses none of that number's entries); one number's entries on more hosts than `limit` come as one
/// longer page. A reader that must see every entry of every host, including those a host ships late after an
/// outage, follows each host by its `hostId`.
struct AuditListing: Sendable {
    /// An entry and the host whose chain it is on (nil on a single host).
    struct Listed: Sendable {
        let hostId: String?
        let entry: AuditEntry
    }

    let core: EngineCore
    let params: AuditListParams
    /// This host's id in the cluster; nil on a single host.
    let hostId: String?

    /// The most hosts one page can carry entries of the same number from, when they do not fit `limit`.
    static let maxHostsPerNumber = 10_000

    /// This host's entries after `since`, from LMDB.
    func local(limit: Int) throws(RPCError) -> [Listed] {
        let entries = try core.read { txn in
            try core.database.auditLog.list(
                txn, since: params.since, limit: limit, workspaceId: params.workspaceId)
        }
        return entries.map { Listed(hostId: hostId, entry: $0) }
    }

    /// Another host's shipped entries, or every host's (this one's from LMDB).
    func acrossHosts(_ cluster: any ClusterLink) async throws -> [Listed] {
        let workspace = params.workspaceId?.text
        if let other = params.hostId?.text {
            let rows = try await cluster.shippedAuditEntries(
                ShippedAuditQuery(hosts: .only(other), after: params.since, workspaceId: workspace, limit: params.limit)
            )
            return try rows.map(Self.listed)
        }
        let own = try local(limit: params.limit)
        // One more than a page: whether the page's last number goes on past the cut is then known.
        let others = try await cluster.shippedAuditEntries(
            ShippedAuditQuery(
                hosts: .allBut(cluster.hostId), after: params.since, workspaceId: workspace, limit: params.limit + 1))
        let merged = try (own + others.map(Self.listed)).sorted(by: Self.inOrder)
        guard merged.count > params.limit else { return merged }
        let last = merged[params.limit - 1].entry.seq
        guard merged[params.limit].entry.seq == last else { return Array(merged.prefix(params.limit)) }
        let whole = merged.prefix(params.limit).filter { $0.entry.seq < last }
        if !whole.isEmpty { return Array(whole) }
        // Every entry of the page has the same number, and more hosts have it than `limit`: all of them.
        let sharing = try await cluster.shippedAuditEntries(
            ShippedAuditQuery(
                hosts: .allBut(cluster.hostId), after: last - 1, through: last, workspaceId: workspace,
                limit: Self.maxHostsPerNumber))
        let ownSharing = own.filter { $0.entry.seq == last }
        return try (ownSharing + sharing.map(Self.listed)).sorted(by: Self.inOrder)
    }

    static func inOrder(_ left: Listed, _ right: Listed) -> Bool {
        (left.entry.seq, left.hostId ?? "") < (right.entry.seq, right.hostId ?? "")
    }

    /// A shipped entry as listed; `integrity_error` when its bytes are not an entry (changed in the database).
    static func listed(_ row: ShippedAuditRow) throws(RPCError) -> Listed {
        // The workspace PostgreSQL read from the bytes must be the one credsd reads (the filter relies on it).
        guard let (entry, _) = AuditLog.decode(row.bytes), entry.seq == row.seq,
            entry.workspaceId == row.workspaceId
        else {
            throw RPCError(
                .integrityError,
                "shipped audit entry \(row.seq) of host \(row.hostId) is unreadable; audit.verify names it",
                data: ["seq": .int(Int64(clamping: row.seq)), "hostId": .string(row.hostId)])
        }
        return Listed(hostId: row.hostId, entry: entry)
    }

    /// `{entries, nextSince}`: `nextSince` is the last entry's number, or `since` for an empty page.
    static func answer(_ listed: [Listed], since: UInt64) -> JSONValue {
        let entries: [JSONValue] = listed.map { item in
            guard let hostId = item.hostId, case .object(var object) = item.entry.json else { return item.entry.json }
            object["hostId"] = .string(hostId)
            return .object(object)
        }
        return .object([
            "entries": .array(entries),
            "nextSince": .int(Int64(clamping: listed.last?.entry.seq ?? since)),
        ])
    }
}
