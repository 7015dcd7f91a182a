import CredsCatalog
public import CredsProtocol
import CredsCrypto
import CredsStore
public import NIOCore

extension CredsEngine {
    /// `resolve`: the credential and headers for a provider in a workspace, under its routing policy.
    /// API keys are answered at once; OAuth tokens may need a refresh first.
    public func resolve(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        let decision: RoutingDecision
        let requiredScopes: [String]
        do {
            (decision, requiredScopes) = try decideResolve(raw)
            guard decision.provider.mode == .oauthUser, let connection = decision.connection else {
                return context.eventLoop.makeSucceededFuture(
                    try resolveAnswer(decision, fields: credentialFields(decision)))
            }
            return oauthAccessToken(connection, context: context).flatMapThrowing { token in
                let missing = requiredScopes.filter { !Self.grants(token.scopes, $0) }
                guard missing.isEmpty else {
                    throw RPCError(
                        .insufficientScope, "the connection was not granted every required scope",
                        data: ["missing": .array(missing.map { .string($0) }), "connectionId": connection.id.json]
                    )
                }
                var answer =
                    try self.resolveAnswer(decision, fields: ["accessToken": token.tokenText]).objectValue ?? [:]
                answer["credential"] = ["accessToken": .string(token.tokenText), "tokenType": .string(token.tokenType)]
                answer["expiresAt"] = token.expiresAt.map { .string(Timestamp.rfc3339($0)) } ?? .null
                answer["scopes"] = .array(token.scopes.map { .string($0) })
                return .object(answer)
            }
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
    }

    /// Whether `granted` covers `required`; a GitHub `name:write` permission also covers `name:read`.
    static func grants(_ granted: [String], _ required: String) -> Bool {
        granted.contains(required)
            || (required.hasSuffix(":read") && granted.contains(String(required.dropLast(5)) + ":write"))
    }

    private func decideResolve(_ raw: [String: JSONValue]) throws(RPCError) -> (RoutingDecision, [String]) {
        let params = try Params(
            raw, allowed: ["workspaceId", "provider", "grant", "connectionId", "requiredScopes"]
        )
        let workspaceId = try params.identifier("workspaceId")
        let providerId = try params.identifier("provider")
        let grant = try params.optionalString("grant")
        let connectionId = try params.optionalIdentifier("connectionId")
        let requiredScopes = try params.optionalStringArray("requiredScopes") ?? []
        let decision = try read { txn in
            // The grant first: nothing a caller without one sends (a provider id, say) reaches an audit entry.
            try checkGrant(txn, grant: grant, workspaceId: workspaceId, provider: providerId)
            let provider = try catalog.connectableProvider(providerId)
            return try decide(txn, provider: provider, workspaceId: workspaceId, connectionId: connectionId)
        }
        return (decision, requiredScopes)
    }

    /// The answer for a decision whose credential fields are known.
    private func resolveAnswer(_ decision: RoutingDecision, fields: [String: String]) throws(RPCError) -> JSONValue {
        let provider = decision.provider
        var result = decision.summary
        result["workspaceId"] = decision.workspaceId.json
        result["provider"] = .string(provider.id)
        var credential: [String: JSONValue] = [:]
        for field in provider.fields where field.exposed {
            if let value = fields[field.name] { credential[field.name] = .string(value) }
        }
        result["credential"] = .object(credential)
        var headers: [String: JSONValue] = [:]
        for header in provider.headers {
            headers[header.name] = .string(Self.render(header.template, fields))
        }
        result["headers"] = .object(headers)
        return .object(result)
    }

    /// A header template with each `{field}` replaced in one pass over the template: substituted text is never
    /// scanned again, so a stored `apiKey` of `{webhookSecret}` stays that text instead of becoming the secret.
    /// An unknown `{name}` stays as it is.
    static func render(_ template: String, _ fields: [String: String]) -> String {
        var output = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            output += rest[..<open]
            rest = rest[open...]
            guard let close = rest.firstIndex(of: "}") else { break }
            let name = String(rest[rest.index(after: open)..<close])
            if let value = fields[name] { output += value } else { output += rest[open...close] }
            rest = rest[rest.index(after: close)...]
        }
        output += rest
        return output
    }

    /// `explain`: what `resolve` would decide, without the credential or a grant.
    public func explain(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        let params = try Params(raw, allowed: ["workspaceId", "provider", "connectionId", "actor"])
        let workspaceId = try params.identifier("workspaceId")
        let providerId = try params.identifier("provider")
        let connectionId = try params.optionalIdentifier("connectionId")
        let actor = try params.identifier("actor")
        let provider = try catalog.connectableProvider(providerId)
        return try read { txn in
            try authorize(txn, actor: actor, workspaceId: workspaceId, write: false)
            var result: [String: JSONValue] = ["workspaceId": workspaceId.json, "provider": .string(provider.id)]
            do {
                let decision = try decide(txn, provider: provider, workspaceId: workspaceId, connectionId: connectionId)
                result.merge(decision.summary) { _, new in new }
                result["ok"] = true
            } catch let error as RPCError {
                result["ok"] = false
                result["reason"] = .string(error.reason.rawValue)
                result["message"] = .string(error.message)
                result["source"] = .null
                result["mode"] = .string(provider.mode.rawValue)
                result["policy"] =
                    provider.mode == .service
                    ? .string(
                        try database.routingMode(txn, workspaceId: workspaceId, provider: provider.identifier).rawValue)
                    : .null
                result["connectionId"] = error.data["connectionId"] ?? connectionId?.json ?? .null
            }
            return .object(result)
        }
    }

    /// The decrypted credential fields for a decision. The strings live only for the answer being built.
    private func credentialFields(_ decision: RoutingDecision) throws(RPCError) -> [String: String] {
        guard let connection = decision.connection else {
            guard let key = builtinKeys[decision.provider.id] else {
                throw RPCError(.builtinUnavailable, "the platform has no built-in key for this provider")
            }
            let apiKey = key.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            return ["apiKey": apiKey]
        }
        return try openPayload(connection)
    }

    /// Opens a connection's sealed payload: its fields, for the answer being built.
    func openPayload(_ connection: ConnectionRecord) throws(RPCError) -> [String: String] {
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
        let parsed = plaintext.withUnsafeBytes { try? JSONValue.parse($0) }
        guard let object = parsed?.objectValue else {
            throw RPCError(
                .integrityError, "the sealed credential is not readable", data: ["connectionId": connection.id.json])
        }
        return object.compactMapValues(\.stringValue)
    }
}
