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
        let fileWarnings = loader.secretFileWarnings()
        logger.warnAbout(fileWarnings)
        if keyRing.active == nil {
            logger.warning("no master key configured: health is degraded and writes of credentials are refused")
        }
        try DataDirectory.prepare(config.dataDir)
        let database = try CredsDatabase(directory: config.dataDir, auditMaxEntries: UInt64(config.audit.maxEntries))
        engine = CredsEngine(
            database: database, keyRing: keyRing, builtinKeys: builtinKeys, resolveConfig: config.resolve,
            oauth: oauth, secretFileWarnings: fileWarnings.map(\.description), logger: logger
        )
        daemon = CredsDaemon(config: config, engine: engine, logger: logger, metrics: metrics, process: process)
        reloader = ConfigReloader(
            engine: engine, daemon: daemon, logger: logger, credentialsDirectory: credentialsDirectory,
            initial: config)
    }
}
