public import CredsCatalog
public import CredsCrypto
import CredsProtocol
import CredsStore
import Logging
import NIOCore
import Synchronization

/// What every service shares: the store and its writer, the catalog, the reloadable secrets, the figures, and
/// the checks all methods make (authorization, connection look-ups). Services own everything else they use.
final class EngineCore: Sendable {
    let catalog: ProviderCatalog
    let database: CredsDatabase
    let resolveConfig: ResolveConfig
    let logger: Logger
    let statistics: DaemonStats
    /// What executors reported about credentials: cooldowns, recent refusals (`resolve.report`).
    let health = ConnectionHealth()
    /// Usage by workspace, provider and day, and the budgets' counters (SPEC 12).
    let usage: UsageLedger
    /// Turns of the platform keys' pools (SPEC 12): each built-in resolve takes the next.
    private let builtinTurns = Atomic<Int>(0)

    /// The next turn: a number to start a pool's round at.
    func nextBuiltinTurn() -> Int {
        builtinTurns.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
    }
    /// Audit entries nobody waits for, on their way to the writer.
    let auditWriter: AuditWriter
    let startedAt = Timestamp.now()
    /// Cluster mode: PostgreSQL takes every write first (SPEC 10); nil on a single host.
    let cluster: (any ClusterLink)?
    /// Event delivery to `[webhooks] url` (its figures are in `stats`); nil when off.
    let webhooks: WebhookDeliverer?
    /// The key ring and built-in keys: replaced as a whole when the configuration is reloaded.
    private let secretsLock: Mutex<EngineSecrets>

    init(
        catalog: ProviderCatalog,
        database: CredsDatabase,
        resolveConfig: ResolveConfig,
        secrets: EngineSecrets,
        statistics: DaemonStats,
        cluster: (any ClusterLink)? = nil,
        webhooks: WebhookDeliverer? = nil,
        logger: Logger
    ) {
        self.cluster = cluster
        self.webhooks = webhooks
        self.catalog = catalog
        self.database = database
        self.resolveConfig = resolveConfig
        self.secretsLock = Mutex(secrets)
        self.statistics = statistics
        self.logger = logger
        let usage = database.usageLedger
        self.usage = usage
        self.auditWriter = AuditWriter(database: database, usage: usage, logger: logger)
    }

    /// The key ring and built-in keys as one snapshot: a request takes it once, so a reload meanwhile cannot give
    /// it two different views.
    var secrets: EngineSecrets { secretsLock.withLock { $0 } }

    /// Seals and opens under the configured key ring.
    var sealer: Sealer { secrets.sealer }

    /// Replaces the secrets (SIGHUP); `fileWarnings` nil keeps the current warnings.
    func replaceSecrets(sealer: Sealer, builtinKeys: [String: BuiltinPool], fileWarnings: [String]?) {
        secretsLock.withLock {
            $0 = EngineSecrets(sealer: sealer, builtinKeys: builtinKeys, fileWarnings: fileWarnings ?? $0.fileWarnings)
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

    /// Runs an admin write: `body` and the audit entry of its answer's facts commit together; the reply comes
    /// after the commit.
    func write(
        context: CallContext,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> MethodAnswer
    ) -> MethodReply {
        .later(writeAnswer(context: context, body))
    }

    /// `write(context:)` as a future, for methods that go on after the commit.
    func writeAnswer(
        context: CallContext,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> MethodAnswer
    ) -> EventLoopFuture<MethodAnswer> {
        let auditLog = database.auditLog
        // Entries of calls answered before this one commit before it: the trail keeps the order of answers.
        auditWriter.flushGathered()
        return write(on: context.eventLoop, body) { txn, answer in
            try auditLog.append(txn, [AuditDraft(context, facts: answer.facts)])
        }
    }

    /// Queues `body` on the writer, then `local` with its value in the same transaction; the future completes
    /// after the durable commit.
    ///
    /// In cluster mode `body` is first rehearsed against the replica (and rolled back) to learn which records it
    /// changes; those go to PostgreSQL, and once committed there they are applied here with `local` (the audit
    /// entry, which stays on this host). A record another host changed meanwhile makes it start over from the
    /// replica, caught up.
    func write<Value: Sendable>(
        on eventLoop: any EventLoop,
        lease: LeaseHold? = nil,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> Value,
        local: (@Sendable (borrowing Transaction, Value) throws -> Void)? = nil
    ) -> EventLoopFuture<Value> {
        let promise = eventLoop.makePromise(of: Value.self)
        let logger = self.logger
        if let cluster {
            promise.completeWithTask { [self] in
                do {
                    return try await replicatedWrite(cluster, lease: lease, body, local: local)
                } catch {
                    throw Self.storeFailure(error, logger: logger)
                }
            }
            return promise.futureResult
        }
        database.writer.submit({ txn in
            let value = try body(txn)
            try local?(txn, value)
            return value
        }) { result in
            promise.completeWith(result.mapError { Self.storeFailure($0, logger: logger) })
        }
        return promise.futureResult
    }

    /// How many times a write starts over after conflicting with other hosts' writes of the same records (each
    /// conflict means another write of the record committed: the records' writers take turns, none is starved
    /// for long).
    static let conflictAttempts = 16

    private func replicatedWrite<Value: Sendable>(
        _ cluster: any ClusterLink,
        lease: LeaseHold?,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> Value,
        local: (@Sendable (borrowing Transaction, Value) throws -> Void)?
    ) async throws -> Value {
        if let refusal = cluster.writeRefusal() { throw refusal }
        let database = self.database
        let logger = self.logger
        var caughtUpForNotFound = false
        var attempt = 0
        while attempt < Self.conflictAttempts {
            attempt += 1
            let value: Value
            let changes: [ReplicatedChange]?
            do {
                (value, changes) = try await withCheckedThrowingContinuation { continuation in
                    database.writer.rehearse(
                        body,
                        plan: { txn, entries in try database.replicatedChanges(txn, entries) },
                        local: { txn, value in try local?(txn, value) },
                        completion: { continuation.resume(with: $0) })
                }
            } catch let error as RPCError where error.reason == .notFound && !caughtUpForNotFound {
                // This replica may not have the record yet (written on another host a moment ago): catch up once
                // and look again before saying it does not exist.
                caughtUpForNotFound = true
                attempt -= 1
                await cluster.catchUp()
                continue
            }
            guard let changes, !changes.isEmpty else { return value }
            let versions: [UInt64]
            do {
                versions = try await cluster.commit(changes, lease: lease)
            } catch is ClusterConflict {
                await cluster.catchUp()
                // A little jitter: writers of one record on several hosts do not retry in step.
                try? await Task.sleep(for: .microseconds(Int64.random(in: 0...2_000)))
                continue
            }
            let rows = zip(changes, versions).map { change, version in
                ReplicatedRow(entity: change.entity, key: change.key, version: version, value: change.value)
            }
            do {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    database.writer.submit({ txn in
                        _ = try database.apply(txn, rows)
                        try local?(txn, value)
                    }) { continuation.resume(with: $0) }
                }
            } catch {
                // Committed in PostgreSQL: the write happened and the feed brings it here later. Only this host's
                // audit entry for it is lost, which the log says.
                logger.error(
                    "cluster write committed but not applied here; the feed will apply it",
                    metadata: ["store.error": "\(error)"])
            }
            return value
        }
        throw RPCError(
            .overloaded, "the write kept meeting concurrent writes of the same records on other hosts; try again")
    }

    /// What a failed write answers: its own `RPCError`, or `internal_error` / the disk-full refusal for a store
    /// failure (logged).
    private static func storeFailure(_ error: any Error, logger: Logger) -> any Error {
        switch error {
        case let error as RPCError:
            return error
        case let error as LeaseLost:
            return error
        case let error as LMDBError where error.isNoSpace:
            logger.error(
                "store write failed: the data directory's filesystem is full", metadata: ["store.error": "\(error)"])
            return RPCError.noSpace
        default:
            logger.error("store write failed", metadata: ["store.error": "\(error)"])
            return RPCError(.internalError, "the store could not complete the write; nothing was changed")
        }
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

    /// The connection with `id`, or `not_found`.
    func existingConnection(_ txn: borrowing Transaction, id: Identifier) throws -> ConnectionRecord {
        guard let record = try database.connection(txn, id: id) else {
            throw RPCError(.notFound, "no connection with this id", data: ["connectionId": id.json])
        }
        return record
    }

    /// The connection `id`, which must belong to `workspaceId` and `provider`, else `not_found`.
    func ownedConnection(
        _ txn: borrowing Transaction,
        id: Identifier,
        workspaceId: Identifier,
        provider: Identifier
    ) throws -> ConnectionRecord {
        guard let record = try database.connection(txn, id: id), record.workspaceId == workspaceId,
            record.provider == provider
        else {
            throw RPCError(
                .notFound,
                "no connection with this id for this workspace and provider",
                data: ["connectionId": id.json]
            )
        }
        return record
    }

    /// Opens a connection's sealed payload: its fields, for the answer being built.
    func openPayload(_ connection: ConnectionRecord, sealer: Sealer) throws(RPCError) -> [String: String] {
        guard let sealed = connection.sealed else {
            throw RPCError(
                .connectionUnavailable, "the connection holds no credential", data: ["connectionId": connection.id.json]
            )
        }
        let plaintext: SecretBytes
        do {
            plaintext = try sealer.open(sealed, associatedData: connection.associatedData)
        } catch .keyNotConfigured(let keyId) {
            throw RPCError(
                .integrityError, "the connection was sealed by master key \(keyId), which is not configured",
                data: ["connectionId": connection.id.json, "keyId": .string(keyId)]
            )
        } catch {
            throw RPCError(
                .integrityError, "the sealed credential failed authentication; it was altered or moved",
                data: ["connectionId": connection.id.json]
            )
        }
        // Read straight into the fields (string members; others skipped), without a JSON tree in between.
        var fields: [String: String] = [:]
        let readable = plaintext.withUnsafeBytes { bytes -> Bool in
            var reader = JSONReader(bytes)
            do {
                try reader.readObject { reader, name throws(RPCError) in
                    do {
                        if let text = try reader.readString() { fields[name] = text } else { try reader.skipValue() }
                    } catch {
                        throw .unreadable
                    }
                }
                try reader.finish()
                return true
            } catch {
                return false
            }
        }
        guard readable else {
            throw RPCError(
                .integrityError, "the sealed credential is not readable", data: ["connectionId": connection.id.json])
        }
        return fields
    }

    /// Puts a connection in `error` with `lastError` and `reason` (its event's), inside a write transaction; only if `stillValid` holds
    /// for the stored record (the caller's view of it is not out of date), else `changed` is thrown and nothing
    /// is written.
    func setErrorStatus(
        _ txn: borrowing Transaction,
        connectionId: Identifier,
        message: String,
        reason: String,
        if stillValid: (ConnectionRecord) -> Bool,
        else changed: RPCError
    ) throws -> ConnectionRecord {
        var record = try existingConnection(txn, id: connectionId)
        guard stillValid(record) else { throw changed }
        record.status = .error
        record.statusReason = reason
        record.lastError = message
        record.updatedAt = Timestamp.now()
        record.revision = try database.nextRevision(txn)
        try database.put(txn, record)
        return record
    }
}
