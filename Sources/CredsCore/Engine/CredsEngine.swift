public import CredsCatalog
public import CredsCrypto
public import CredsOAuth
public import CredsProtocol
public import Logging
public import NIOCore

/// The daemon's business logic, assembled: one service per concern over a shared core (store, catalog,
/// reloadable secrets, figures). `MethodRegistry` binds each method of SPEC section 6 to its service.
///
/// Reads run synchronously on the caller's event loop; writes go through the store's writer thread and answer
/// after the durable commit.
public final class CredsEngine: Sendable {
    let core: EngineCore
    let audit: AuditService
    let events: EventService
    let reports: ReportService
    let probes: ProbeService
    /// Wakes `watch` connections when events are added.
    public let eventFeed: EventFeed
    /// Delivers events to `[webhooks] url`; nil when webhooks are off. The daemon runs it.
    public let webhookDeliverer: WebhookDeliverer?
    /// Re-tests keys in the background (`[health] probeEverySeconds`); nil when off. The daemon runs it.
    public let backgroundProber: BackgroundProber?
    let grants: GrantService
    let tokens: TokenService
    let resolution: ResolutionService
    let connections: ConnectionService
    let policies: PolicyService
    let members: MemberService
    let webhooks: WebhookService
    let keys: KeyService
    let oauthFlow: OAuthFlowService
    let info: InfoService
    let budgets: BudgetService
    let usageReports: UsageService

    public init(
        database: CredsDatabase,
        keyRing: KeyRing,
        builtinKeys: [String: [SecretBytes]],
        resolveConfig: ResolveConfig,
        oauth: OAuthSettings = OAuthSettings(),
        tokenClient: TokenEndpointClient = TokenEndpointClient(),
        catalog: ProviderCatalog = .bundled,
        secretFileWarnings: [String] = [],
        providerBaseUrls: [String: String] = [:],
        webhookDelivery: (url: String, secret: SecretBytes)? = nil,
        probeEverySeconds: Int = 0,
        cluster: (any ClusterLink)? = nil,
        logger: Logger
    ) {
        let deliverer = webhookDelivery.map {
            WebhookDeliverer(database: database, url: $0.url, secret: $0.secret, client: tokenClient, logger: logger)
        }
        webhookDeliverer = deliverer
        let core = EngineCore(
            catalog: catalog, database: database, resolveConfig: resolveConfig,
            secrets: EngineSecrets(
                sealer: Sealer(keyRing: keyRing),
                builtinKeys: builtinKeys.mapValues { BuiltinPool($0, keyRing: keyRing) },
                fileWarnings: secretFileWarnings),
            statistics: DaemonStats(), cluster: cluster, webhooks: deliverer, logger: logger
        )
        self.core = core
        audit = AuditService(core: core)
        events = EventService(core: core)
        grants = GrantService(core: core)
        tokens = TokenService(core: core, oauth: oauth, tokenClient: tokenClient)
        reports = ReportService(core: core, grants: grants, tokens: tokens)
        probes = ProbeService(core: core, client: tokenClient, baseUrls: providerBaseUrls)
        backgroundProber =
            probeEverySeconds > 0
            ? BackgroundProber(
                core: core, probes: probes, every: .seconds(probeEverySeconds),
                eventLoop: tokenClient.httpClient.eventLoopGroup.next()) : nil
        eventFeed = EventFeed(eventLoop: tokenClient.httpClient.eventLoopGroup.next()) { [database] in
            try? database.environment.read { txn in try database.events.head(txn) }
        }
        resolution = ResolutionService(core: core, grants: grants, tokens: tokens)
        connections = ConnectionService(core: core, tokens: tokens)
        policies = PolicyService(core: core)
        members = MemberService(core: core)
        webhooks = WebhookService(core: core, grants: grants)
        keys = KeyService(core: core)
        oauthFlow = OAuthFlowService(core: core, oauth: oauth, tokenClient: tokenClient)
        info = InfoService(core: core)
        budgets = BudgetService(core: core)
        usageReports = UsageService(core: core)
    }

    /// Figures for `stats` and the metrics listener.
    public var statistics: DaemonStats { core.statistics }

    /// The store.
    public var database: CredsDatabase { core.database }

    /// Cluster mode: where this host's replica stands; nil on a single host.
    public var clusterStatus: ClusterStatus? { core.cluster?.status }

    /// The configured key ring.
    public var keyRing: KeyRing { core.sealer.keyRing }

    /// Providers with a built-in key configured.
    public var builtinProviders: [String] { core.secrets.builtinKeys.keys.sorted() }

    /// Takes new master keys and built-in keys (SIGHUP). In-flight requests finish with what they read.
    /// `secretFileWarnings` replaces the group-readable files `health` lists; nil keeps the current list.
    public func reloadSecrets(
        keyRing: KeyRing,
        builtinKeys: [String: [SecretBytes]],
        secretFileWarnings: [String]? = nil
    ) {
        core.replaceSecrets(
            sealer: Sealer(keyRing: keyRing), builtinKeys: builtinKeys.mapValues { BuiltinPool($0, keyRing: keyRing) },
            fileWarnings: secretFileWarnings)
    }

    /// The platform keys' ids by provider (SIGHUP logs what changed).
    public var builtinKeyIds: [String: [String]] { core.secrets.builtinKeys.mapValues(\.ids) }

    /// Records how a call ended in the audit trail without making anyone wait for it (see `AuditService`);
    /// returns a future the answer must wait for when the audit backlog is over its limit, else nil.
    public func recordOutcome(_ context: CallContext, _ outcome: Result<CallFacts, RPCError>) -> EventLoopFuture<Void>?
    {
        audit.recordOutcome(context, outcome)
    }

    /// Appends the `suppressed: N` entries of refusal windows still open (at shutdown).
    public func flushRefusalSummaries() {
        audit.flushRefusalSummaries()
    }
}

/// What the server's event watchers read (SPEC 11 `watch`).
extension CredsEngine {
    /// The outbox's last event number.
    public func eventHead() throws -> UInt64 {
        try core.read { txn in try core.database.events.head(txn) }
    }

    /// Up to `limit` events after `cursor` in `scope`, and the number the next read starts after.
    public func events(after cursor: UInt64, limit: Int, scope: WatchScope) throws
        -> (events: [EventRecord], scannedThrough: UInt64)
    {
        try core.read { txn in
            try core.database.events.list(txn, since: cursor, limit: limit, workspaceId: nil, where: scope.admits)
        }
    }

    /// Whether a resolve-socket watch's grant still holds (a revoked or expired grant ends the watch).
    public func watchAllowed(_ scope: WatchScope) -> Bool {
        guard let digest = scope.grantDigest else { return true }
        let record = try? core.read { txn in try core.database.grant(txn, digest: digest) }
        return record.flatMap { $0 }.map { $0.expiresAt > Timestamp.now() } ?? false
    }
}
