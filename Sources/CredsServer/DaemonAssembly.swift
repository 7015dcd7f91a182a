import CredsCluster
public import CredsCore
public import Logging

/// The daemon put together from its configuration: secrets loaded, data directory prepared, store opened, engine,
/// sockets and reloads ready. `credsd serve` runs it under signals; tests run it in their own process.
///
/// Nothing here touches what belongs to a process (logging and metrics bootstrap, signals, core dumps, the crash
/// report setting): the caller does that, and passes in the logger and metrics listener to use.
public struct DaemonAssembly: Sendable {
    public let engine: CredsEngine
    /// The service to run; it closes the store when it stops.
    public let daemon: CredsDaemon
    /// What SIGHUP does.
    public let reloader: ConfigReloader

    /// Loads the key files and other secrets `config` names (systemd's `$CREDENTIALS_DIRECTORY` is
    /// `credentialsDirectory`), logs the secret files others could read, prepares the data directory and opens the
    /// store. Throws the first failure, whose description names the key or path.
    public init(
        config: DaemonConfig,
        credentialsDirectory: String?,
        logger: Logger,
        metrics: MetricsListener? = nil,
        process: CredsDaemon.Process = .own
    ) throws {
        let loader = SecretsLoader(config: config, credentialsDirectory: credentialsDirectory)
        let keyRing = try loader.loadKeyRing()
        let builtinKeys = try loader.loadBuiltinKeys()
        let oauth = try loader.loadOAuth()
        let webhookDelivery = try loader.loadWebhookSecret().flatMap { secret in
            config.webhooks.url.map { (url: $0, secret: secret) }
        }
        let fileWarnings = loader.secretFileWarnings()
        logger.warnAbout(fileWarnings)
        if keyRing.active == nil {
            logger.warning("no master key configured: health is degraded and writes of credentials are refused")
        }
        try DataDirectory.prepare(config.dataDir)
        let database = try CredsDatabase(directory: config.dataDir, auditMaxEntries: UInt64(config.audit.maxEntries))
        var replica: ClusterReplica?
        if let cluster = config.cluster {
            replica = try Self.replica(cluster, loader: loader, database: database, logger: logger)
        }
        engine = CredsEngine(
            database: database, keyRing: keyRing, builtinKeys: builtinKeys, resolveConfig: config.resolve,
            oauth: oauth, secretFileWarnings: fileWarnings.map(\.description),
            providerBaseUrls: config.providerBaseUrls,
            webhookDelivery: webhookDelivery, probeEverySeconds: config.health.probeEverySeconds, cluster: replica,
            logger: logger
        )
        daemon = CredsDaemon(
            config: config, engine: engine, logger: logger, metrics: metrics, process: process,
            cluster: replica.map { replica in
                CredsDaemon.ClusterFollower(run: replica.run, hasSynced: { replica.hasSynced })
            })
        reloader = ConfigReloader(
            engine: engine, daemon: daemon, logger: logger, credentialsDirectory: credentialsDirectory,
            initial: config)
    }

    /// Cluster mode's replica of this data directory. A store that holds records but never followed a cluster is
    /// a single-host store: its first sync would replace them, so it is refused.
    private static func replica(
        _ cluster: ClusterConfig,
        loader: SecretsLoader,
        database: CredsDatabase,
        logger: Logger
    ) throws -> ClusterReplica {
        let password = try loader.loadClusterPassword()
        if try database.holdsSingleHostRecords() {
            throw ConfigError(
                key: "cluster",
                problem:
                    "the data directory holds a single-host store; copy it into the cluster with credsd cluster import "
                    + "and start this host from an empty data directory")
        }
        return try ClusterReplica(
            config: cluster, database: ClusterDatabase(config: cluster, password: password, logger: logger),
            store: database, logger: logger)
    }
}
