import CredsCatalog
import CredsCrypto
import CredsProtocol
import CredsStore

/// API-key connections and every connection's life cycle: `connections.upsert`, `.get`, `.list`, `.revoke`,
/// `.delete`.
struct ConnectionService: Sendable {
    static let noKeyToStore = RPCError(
        .encryptionKeyMissing, "no master key is configured; credsd cannot store credentials")

    let core: EngineCore
    let validator = CredentialValidator()
    /// What is held in memory for a connection's tokens, dropped when it is revoked or deleted.
    let tokens: TokenService

    /// `connections.upsert`: validates, seals and stores an API-key credential; `status: active`.
    func upsert(_ params: ConnectionsUpsertParams, context: CallContext) -> MethodReply {
        let prepared: (record: ConnectionRecord, warnings: [JSONValue])
        do {
            prepared = try prepareUpsert(params)
        } catch {
            return .now(.failure(error))
        }
        let core = self.core
        let facts = context.facts
        return core.write(context: context) { txn in
            try core.authorize(txn, actor: params.actor, workspaceId: params.workspaceId, write: true)
            var record = prepared.record
            if params.connectionId != nil {
                let existing = try core.ownedConnection(
                    txn, id: record.id, workspaceId: record.workspaceId, provider: record.provider
                )
                record = ConnectionRecord(
                    id: existing.id, workspaceId: existing.workspaceId, provider: existing.provider,
                    displayName: record.displayName, mode: record.mode, status: .active, scopes: record.scopes,
                    expiresAt: record.expiresAt,
                    lastError: nil, createdAt: existing.createdAt, updatedAt: record.updatedAt, revision: 0,
                    sealed: record.sealed
                )
            }
            record.statusReason = params.connectionId == nil ? "created" : "credential_replaced"
            record.revision = try core.database.nextRevision(txn)
            try core.database.put(txn, record)
            var written = facts
            written.connectionId = record.id
            let result: JSONValue = ["connection": record.publicJSON, "warnings": .array(prepared.warnings)]
            return MethodAnswer(result, facts: written)
        }
    }

    /// Checks everything that needs no write transaction and seals the payload.
    private func prepareUpsert(
        _ params: ConnectionsUpsertParams
    ) throws(RPCError) -> (record: ConnectionRecord, warnings: [JSONValue]) {
        let provider = try core.catalog.connectableProvider(params.provider)
        guard provider.mode == .service || provider.importable == true else {
            throw RPCError(
                .invalidParams,
                "\(provider.displayName) connections are made through the OAuth flow: oauth.begin, then oauth.complete",
                data: ["provider": .string(provider.id)]
            )
        }
        try core.read { txn in
            try core.authorize(txn, actor: params.actor, workspaceId: params.workspaceId, write: true)
        }
        // One look at the reloadable key ring for the whole request: a SIGHUP between a check and the sealing
        // once stored an `active` connection with no credential.
        let sealer = core.sealer
        guard sealer.keyRing.active != nil else { throw Self.noKeyToStore }
        let outcome = try validator.validate(params.credentialPayload, for: provider)
        let id = params.connectionId ?? Identifier(stored: Random.token(prefix: "conn_", byteCount: 12))
        let plaintext = Self.sealablePayload(outcome.fields)
        let associatedData = ConnectionRecord.associatedData(
            id: id, workspaceId: params.workspaceId, provider: provider.identifier)
        guard let sealed = sealer.seal(plaintext, associatedData: associatedData) else { throw Self.noKeyToStore }
        let now = Timestamp.now()
        let record = ConnectionRecord(
            id: id, workspaceId: params.workspaceId, provider: provider.identifier, displayName: params.displayName,
            mode: provider.mode,
            status: .active, scopes: outcome.lists["scopes"], expiresAt: outcome.times["expiresAt"], lastError: nil,
            createdAt: now, updatedAt: now, revision: 0, sealed: sealed
        )
        return (record, outcome.warnings)
    }

    /// The payload's JSON in guarded memory; the intermediate array is zeroed.
    static func sealablePayload(_ fields: [String: String]) -> SecretBytes {
        var json = JSONValue.object(fields.mapValues { .string($0) }).serialized()
        defer { _ = json.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        return SecretBytes(copying: json, storage: .transient)
    }

    /// `connections.get`.
    func get(_ params: ConnectionParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let record = try core.read { txn in
                let record = try core.existingConnection(txn, id: params.connectionId)
                try core.authorize(txn, actor: params.actor, workspaceId: record.workspaceId, write: false)
                return record
            }
            return MethodAnswer(["connection": record.publicJSON] as JSONValue, facts: context.facts)
        }
    }

    /// `connections.list`.
    func list(_ params: WorkspaceReadParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            if let provider = params.provider, core.catalog.provider(provider) == nil {
                throw RPCError(.unknownProvider, "unknown provider", data: ["provider": provider.json])
            }
            let records = try core.read { txn in
                try core.authorize(txn, actor: params.actor, workspaceId: params.workspaceId, write: false)
                return try core.database.connections(txn, workspaceId: params.workspaceId, provider: params.provider)
            }
            return MethodAnswer(["connections": .array(records.map(\.publicJSON))] as JSONValue, facts: context.facts)
        }
    }

    /// `connections.revoke`: status `revoked`, sealed material destroyed in the same commit.
    func revoke(_ params: ConnectionParams, context: CallContext) -> MethodReply {
        let database = core.database
        return change(params, context: context) { txn, record in
            record.status = .revoked
            record.statusReason = "revoked"
            record.sealed = nil
            record.lastError = nil
            record.updatedAt = Timestamp.now()
            record.revision = try database.nextRevision(txn)
            try database.put(txn, record)
            return ["connection": record.publicJSON]
        }
    }

    /// `connections.delete`.
    func delete(_ params: ConnectionParams, context: CallContext) -> MethodReply {
        let database = core.database
        return change(params, context: context) { txn, record in
            try database.remove(txn, record)
            return [
                "deleted": true, "connectionId": record.id.json, "workspaceId": record.workspaceId.json,
                "provider": record.provider.json,
            ]
        }
    }

    /// Shared by revoke and delete: load the connection, check `write`, apply `change`.
    private func change(
        _ params: ConnectionParams,
        context: CallContext,
        _ change: @escaping @Sendable (borrowing Transaction, inout ConnectionRecord) throws -> JSONValue
    ) -> MethodReply {
        let core = self.core
        let tokens = self.tokens
        let facts = context.facts
        return core.write(context: context) { txn in
            var record = try core.existingConnection(txn, id: params.connectionId)
            do {
                try core.authorize(txn, actor: params.actor, workspaceId: record.workspaceId, write: true)
            } catch let error as RPCError {
                // The owner's audit trail shows the attempt; the caller learns nothing about the owner.
                throw error.auditing(["workspaceId": record.workspaceId, "provider": record.provider])
            }
            // A pending authorization of this connection must not bring it back once revoked or deleted, and a
            // minted GitHub installation token is dropped with the rest of its secret material.
            let connectionId = record.id
            try core.database.removeOAuthStates(txn) { $0.connectionId == connectionId }
            tokens.forget(connectionId)
            core.health.forget(connectionId)
            var written = facts
            written.workspaceId = record.workspaceId
            written.provider = record.provider
            return MethodAnswer(try change(txn, &record), facts: written)
        }
    }
}
