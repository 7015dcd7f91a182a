public import CredsCatalog
public import CredsCrypto
public import CredsOAuth
public import CredsProtocol
import CredsStore
public import Logging
import NIOCore
import Synchronization

/// The daemon's business logic: every method of SPEC section 6, over the store and the key ring.
///
/// Reads run synchronously on the caller's thread; writes go through the store's writer thread and
/// complete their future after the durable commit.
public final class CredsEngine: Sendable {
    public let catalog: ProviderCatalog
    public let database: CredsDatabase
    public let resolveConfig: ResolveConfig
    /// The key ring and built-in keys: replaced as a whole when the configuration is reloaded.
    private let secretsLock: Mutex<EngineSecrets>
    let validator = CredentialValidator()
    let logger: Logger
    let startedAt: Int64
    let replayCache = ReplayCache(retentionSeconds: 2 * CredsEngine.webhookTolerance)
    let oauth: OAuthSettings
    let tokenClient: TokenEndpointClient
    let flights = TokenFlights()
    let installationTokens = InstallationTokenCache()
    let auditQueue = AuditQueue()
    let refusalThrottle = RefusalThrottle()
    /// Figures for `stats` and the metrics listener.
    public let statistics = DaemonStats()

    public init(
        database: CredsDatabase,
        keyRing: KeyRing,
        builtinKeys: [String: SecretBytes],
        resolveConfig: ResolveConfig,
        oauth: OAuthSettings = OAuthSettings(),
        tokenClient: TokenEndpointClient = TokenEndpointClient(),
        catalog: ProviderCatalog = .bundled,
        secretFileWarnings: [String] = [],
        logger: Logger
    ) {
        self.oauth = oauth
        self.tokenClient = tokenClient
        self.database = database
        self.secretsLock = Mutex(
            EngineSecrets(sealer: Sealer(keyRing: keyRing), builtinKeys: builtinKeys, fileWarnings: secretFileWarnings)
        )
        self.resolveConfig = resolveConfig
        self.catalog = catalog
        self.logger = logger
        self.startedAt = Timestamp.now()
    }

    /// The configured key ring.
    public var keyRing: KeyRing { sealer.keyRing }

    /// The key ring and built-in keys as one snapshot: a request takes it once, so a reload meanwhile cannot
    /// give it two different views.
    var secrets: EngineSecrets { secretsLock.withLock { $0 } }

    /// Seals and opens under the configured key ring.
    var sealer: Sealer { secrets.sealer }

    /// The platform's keys by provider.
    var builtinKeys: [String: SecretBytes] { secrets.builtinKeys }

    /// Secret files their group may read, for `health.problems`.
    var secretFileWarnings: [String] { secrets.fileWarnings }

    /// Providers with a built-in key configured.
    public var builtinProviders: [String] { builtinKeys.keys.sorted() }

    /// Takes new master keys and built-in keys (SIGHUP). In-flight requests finish with what they read.
    /// `secretFileWarnings` replaces the group-readable files `health` lists; nil keeps the current list.
    public func reloadSecrets(keyRing: KeyRing, builtinKeys: [String: SecretBytes], secretFileWarnings: [String]? = nil)
    {
        secretsLock.withLock {
            $0 = EngineSecrets(
                sealer: Sealer(keyRing: keyRing), builtinKeys: builtinKeys,
                fileWarnings: secretFileWarnings ?? $0.fileWarnings
            )
        }
    }

    /// Runs `body` in a read transaction, turning store failures into `internal_error`.
    func read<Value>(_ body: (borrowing Transaction) throws -> Value) throws(RPCError) -> Value {
        do {
            return try database.environment.read(body)
        } catch let error as RPCError {
            throw error
        } catch {
            logger.error("store read failed", metadata: ["store.error": "\(error)"])
            throw RPCError(.internalError, "the store could not be read")
        }
    }

    /// Runs an admin write: `body` and its audit entry commit together; the future completes after the commit.
    func write(
        context: CallContext,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> JSONValue
    ) -> EventLoopFuture<JSONValue> {
        let auditLog = database.auditLog
        return write(on: context.eventLoop) { txn in
            let result = try body(txn)
            try auditLog.append(txn, [AuditDraft(context, facts: context.facts.completed(with: result))])
            return result
        }
    }

    /// Queues `body` on the writer; the future completes after the durable commit.
    func write<Value: Sendable>(
        on eventLoop: any EventLoop,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> Value
    ) -> EventLoopFuture<Value> {
        let promise = eventLoop.makePromise(of: Value.self)
        let logger = self.logger
        database.writer.submit(body) { result in
            switch result {
            case .success(let value):
                promise.succeed(value)
            case .failure(let error as RPCError):
                promise.fail(error)
            case .failure(let error as LMDBError) where error.isNoSpace:
                logger.error(
                    "store write failed: the data directory's filesystem is full", metadata: ["store.error": "\(error)"]
                )
                promise.fail(RPCError.noSpace)
            case .failure(let error):
                logger.error("store write failed", metadata: ["store.error": "\(error)"])
                promise.fail(RPCError(.internalError, "the store could not complete the write; nothing was changed"))
            }
        }
        return promise.futureResult
    }

    /// Refuses with `forbidden` unless `actor` holds the role needed in `workspaceId`.
    func authorize(
        _ txn: borrowing Transaction,
        actor: Identifier,
        workspaceId: Identifier,
        write: Bool
    ) throws {
        let role = try database.role(txn, workspaceId: workspaceId, principal: actor)
        guard write ? role.canWrite : role.canRead else {
            // Names neither the workspace nor the actor: with a connection id, the workspace would be an oracle.
            throw RPCError(.forbidden, "not allowed", data: ["needed": .string(write ? "write" : "read")])
        }
    }

    /// The connection with `id` in a read transaction, or `not_found`.
    func existingConnection(_ txn: borrowing Transaction, id: Identifier) throws -> ConnectionRecord {
        guard let record = try database.connection(txn, id: id) else {
            throw RPCError(.notFound, "no connection with this id", data: ["connectionId": id.json])
        }
        return record
    }
}
