import CredsCatalog
import CredsProtocol
import CredsStore

extension ResolutionService {
    /// Applies the resolution rules of SPEC section 6 to the stored state, without decrypting anything.
    func decide(
        _ txn: borrowing Transaction,
        provider: Provider,
        workspaceId: Identifier,
        connectionId: Identifier?,
        secrets: EngineSecrets
    ) throws -> RoutingDecision {
        let named = try connectionId.map { id in
            try core.ownedConnection(txn, id: id, workspaceId: workspaceId, provider: provider.identifier)
        }
        if let named, named.status != .active {
            throw RPCError(
                .connectionUnavailable,
                "the connection is \(named.status.rawValue)",
                data: ["connectionId": named.id.json, "status": .string(named.status.rawValue)]
            )
        }
        let policy: RoutingMode? =
            provider.mode == .service
            ? try core.database.routingMode(txn, workspaceId: workspaceId, provider: provider.identifier) : nil
        let hasBuiltin = secrets.builtinKeys[provider.id] != nil
        if policy == .builtIn {
            guard hasBuiltin else {
                throw RPCError(
                    .builtinUnavailable, "the platform has no built-in \(provider.displayName) key",
                    data: ["provider": .string(provider.id)]
                )
            }
            return RoutingDecision(
                provider: provider, workspaceId: workspaceId, policy: policy, source: .builtIn, connection: nil,
                fallbackReason: nil,
                coolingDownUntil: core.health.coolingDown(
                    .builtin(workspace: workspaceId, provider: provider.identifier)))
        }
        let all =
            named == nil
            ? try core.database.connections(txn, workspaceId: workspaceId, provider: provider.identifier) : []
        if let connection = named ?? Self.newestActive(all) {
            return RoutingDecision(
                provider: provider, workspaceId: workspaceId, policy: policy, source: .byo, connection: connection,
                fallbackReason: nil,
                coolingDownUntil: core.health.coolingDown(
                    .connection(connection.id), version: connection.authorizationVersion))
        }
        let newest = Self.newest(all)
        if policy == .auto, hasBuiltin {
            return RoutingDecision(
                provider: provider, workspaceId: workspaceId, policy: policy, source: .builtIn, connection: nil,
                fallbackReason: Self.fallbackReason(newest),
                coolingDownUntil: core.health.coolingDown(
                    .builtin(workspace: workspaceId, provider: provider.identifier))
            )
        }
        if provider.mode == .oauthUser, let newest, newest.status == .error {
            throw RPCError(
                .reauthRequired, "the connection needs to be authorized again",
                data: ["connectionId": newest.id.json]
            )
        }
        throw RPCError(
            .noCredential,
            "workspace has no usable \(provider.displayName) credential",
            data: ["provider": .string(provider.id), "policy": policy.map { .string($0.rawValue) } ?? .null]
        )
    }

    /// The newest active record, in one pass (no filtered copy: this runs on every resolve).
    private static func newestActive(_ records: [ConnectionRecord]) -> ConnectionRecord? {
        var newest: ConnectionRecord?
        for record in records where record.status == .active {
            if newest.map({ record.isNewer(than: $0) }) ?? true { newest = record }
        }
        return newest
    }

    private static func newest(_ records: [ConnectionRecord]) -> ConnectionRecord? {
        records.max { !$0.isNewer(than: $1) }
    }

    private static func fallbackReason(_ newest: ConnectionRecord?) -> String {
        switch newest?.status {
        case .revoked: return "connection_revoked"
        case .error: return "connection_error"
        default: return "no_connection"
        }
    }
}
