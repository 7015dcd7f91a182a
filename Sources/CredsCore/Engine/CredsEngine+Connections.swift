import CredsCatalog
public import CredsProtocol
import CredsCrypto
import CredsStore
public import NIOCore

extension CredsEngine {
    /// `connections.upsert`: validates, seals and stores an API-key credential; `status: active`.
    public func connectionsUpsert(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        let prepared: (record: ConnectionRecord, isUpdate: Bool, warnings: [JSONValue], actor: Identifier)
        do {
            prepared = try prepareUpsert(raw)
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
        let database = self.database
        return write(context: context) { txn in
            try self.authorize(txn, actor: prepared.actor, workspaceId: prepared.record.workspaceId, write: true)
            var record = prepared.record
            if prepared.isUpdate {
                let existing = try self.ownedConnection(
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
            record.revision = try database.nextRevision(txn)
            try database.put(txn, record)
            return ["connection": record.publicJSON, "warnings": .array(prepared.warnings)]
        }
    }

    /// Checks everything that needs no transaction and seals the payload.
    private func prepareUpsert(
        _ raw: [String: JSONValue]
    ) throws(RPCError) -> (record: ConnectionRecord, isUpdate: Bool, warnings: [JSONValue], actor: Identifier) {
        let params = try Params(
            raw,
            allowed: ["workspaceId", "provider", "displayName", "credentialPayload", "connectionId", "actor"]
        )
        let workspaceId = try params.identifier("workspaceId")
        let providerId = try params.identifier("provider")
        let displayName = try params.string("displayName")
        let payload = try params.object("credentialPayload")
        let connectionId = try params.optionalIdentifier("connectionId")
        let actor = try params.identifier("actor")
        guard (1...200).contains(displayName.count) else {
            throw RPCError.invalidParams("displayName must be 1 to 200 characters")
        }
        let provider = try catalog.connectableProvider(providerId)
        guard provider.mode == .service || provider.importable == true else {
            throw RPCError(
                .invalidParams,
                "\(provider.displayName) connections are made through the OAuth flow: oauth.begin, then oauth.complete",
                data: ["provider": .string(provider.id)]
            )
        }
        try read { txn in try authorize(txn, actor: actor, workspaceId: workspaceId, write: true) }
        // One look at the reloadable key ring for the whole request: a SIGHUP between a check and the sealing
        // once stored an `active` connection with no credential.
        let sealer = self.sealer
        guard sealer.keyRing.active != nil else { throw Self.noKeyToStore }
        let outcome = try validator.validate(payload, for: provider)
        let id = connectionId ?? Identifier(stored: Random.token(prefix: "conn_", byteCount: 12))
        let plaintext = Self.sealablePayload(outcome.fields)
        let associatedData = ConnectionRecord.associatedData(
            id: id, workspaceId: workspaceId, provider: provider.identifier)
        guard let sealed = sealer.seal(plaintext, associatedData: associatedData) else { throw Self.noKeyToStore }
        let now = Timestamp.now()
        let record = ConnectionRecord(
            id: id, workspaceId: workspaceId, provider: provider.identifier, displayName: displayName,
            mode: provider.mode,
            status: .active, scopes: outcome.lists["scopes"], expiresAt: outcome.times["expiresAt"], lastError: nil,
            createdAt: now, updatedAt: now, revision: 0, sealed: sealed
        )
        return (record, connectionId != nil, outcome.warnings, actor)
    }

    static let noKeyToStore = RPCError(
        .encryptionKeyMissing, "no master key is configured; credsd cannot store credentials")

    /// The payload's JSON in guarded memory; the intermediate array is zeroed.
    static func sealablePayload(_ fields: [String: String]) -> SecretBytes {
        var json = JSONValue.object(fields.mapValues { .string($0) }).serialized()
        defer { _ = json.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        return SecretBytes(copying: json, storage: .transient)
    }

    /// `connections.get`.
    public func connectionsGet(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        let params = try Params(raw, allowed: ["connectionId", "actor"])
        let id = try params.identifier("connectionId")
        let actor = try params.identifier("actor")
        let record = try read { txn in
            let record = try existingConnection(txn, id: id)
            try authorize(txn, actor: actor, workspaceId: record.workspaceId, write: false)
            return record
        }
        return ["connection": record.publicJSON]
    }

    /// `connections.list`.
    public func connectionsList(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        let params = try Params(raw, allowed: ["workspaceId", "provider", "actor"])
        let workspaceId = try params.identifier("workspaceId")
        let provider = try params.optionalIdentifier("provider")
        let actor = try params.identifier("actor")
        if let provider, catalog.provider(provider) == nil {
            throw RPCError(.unknownProvider, "unknown provider", data: ["provider": provider.json])
        }
        let records = try read { txn in
            try authorize(txn, actor: actor, workspaceId: workspaceId, write: false)
            return try database.connections(txn, workspaceId: workspaceId, provider: provider)
        }
        return ["connections": .array(records.map(\.publicJSON))]
    }

    /// `connections.revoke`: status `revoked`, sealed material destroyed in the same commit.
    public func connectionsRevoke(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        changeConnection(raw, context: context) { txn, record in
            record.status = .revoked
            record.sealed = nil
            record.lastError = nil
            record.updatedAt = Timestamp.now()
            record.revision = try self.database.nextRevision(txn)
            try self.database.put(txn, record)
            return ["connection": record.publicJSON]
        }
    }

    /// `connections.delete`.
    public func connectionsDelete(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        changeConnection(raw, context: context) { txn, record in
            try self.database.remove(txn, record)
            return [
                "deleted": true, "connectionId": record.id.json, "workspaceId": record.workspaceId.json,
                "provider": record.provider.json,
            ]
        }
    }

    /// Shared by revoke and delete: load the connection, check `write`, apply `change`.
    private func changeConnection(
        _ raw: [String: JSONValue],
        context: CallContext,
        _ change: @escaping @Sendable (borrowing Transaction, inout ConnectionRecord) throws -> JSONValue
    ) -> EventLoopFuture<JSONValue> {
        let id: Identifier
        let actor: Identifier
        do {
            let params = try Params(raw, allowed: ["connectionId", "actor"])
            id = try params.identifier("connectionId")
            actor = try params.identifier("actor")
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
        return write(context: context) { txn in
            var record = try self.existingConnection(txn, id: id)
            do {
                try self.authorize(txn, actor: actor, workspaceId: record.workspaceId, write: true)
            } catch let error as RPCError {
                // The owner's audit trail shows the attempt; the caller learns nothing about the owner.
                throw error.auditing(["workspaceId": record.workspaceId, "provider": record.provider])
            }
            // A pending authorization of this connection must not bring it back once revoked or deleted, and a
            // minted GitHub installation token is dropped with the rest of its secret material.
            let connectionId = record.id
            try self.database.removeOAuthStates(txn) { $0.connectionId == connectionId }
            self.installationTokens.remove(connectionId)
            return try change(txn, &record)
        }
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
}
