import CredsCrypto
import CredsOAuth
import CredsProtocol
import NIOCore

/// Google: the access token is sealed in the connection with its refresh token; a new one comes from the token
/// endpoint (`grant_type=refresh_token`) and is sealed back before it is answered.
struct GoogleTokenSource: TokenSource {
    let core: EngineCore
    let settings: GoogleOAuthSettings?
    let tokenClient: TokenEndpointClient

    func current(_ connection: ConnectionRecord, fields: [String: String]) throws(RPCError) -> AccessToken? {
        guard let accessToken = fields["accessToken"] else {
            throw RPCError(
                .reauthRequired, "the connection holds no access token", data: ["connectionId": connection.id.json])
        }
        return AccessToken(
            token: SecretBytes(copying: Array(accessToken.utf8), storage: .transient), tokenType: "Bearer",
            expiresAt: connection.expiresAt, scopes: connection.scopes ?? []
        )
    }

    func unavailable(_ connection: ConnectionRecord, fields: [String: String]) -> RPCError? {
        guard settings == nil || fields["refreshToken"] == nil else { return nil }
        return RPCError(
            .upstreamUnavailable, "the token has expired and cannot be refreshed here",
            data: ["connectionId": connection.id.json])
    }

    func fetch(_ connection: ConnectionRecord, fields: [String: String], on eventLoop: any EventLoop)
        -> EventLoopFuture<TokenReply>
    {
        guard let settings, let refreshToken = fields["refreshToken"] else {
            return eventLoop.makeFailedFuture(unavailable(connection, fields: fields)!)
        }
        let form = [
            ("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", settings.clientId),
            ("client_secret", settings.clientSecret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }),
        ]
        return tokenClient.postForm(settings.tokenUrl, form: form, on: eventLoop).flatMap { reply in
            let json = try? JSONValue.parse(reply.body)
            if reply.isSuccess, let json, let grant = TokenGrant(json: json, now: Timestamp.now()) {
                return store(grant, keepRefreshToken: refreshToken, for: connection, on: eventLoop).map {
                    .issued($0)
                }
            }
            if json?["error"]?.stringValue == "invalid_grant" {
                return eventLoop.makeSucceededFuture(.refused("Google refused the refresh token (invalid_grant)"))
            }
            return eventLoop.makeSucceededFuture(.failed(httpStatus: reply.status))
        }
    }

    /// Stores a refreshed token (and a rotated refresh token) durably before it is answered; only if the record is
    /// still the one the refresh started from (a re-authorization meanwhile wins, and this result is dropped).
    private func store(
        _ grant: TokenGrant,
        keepRefreshToken: String,
        for connection: ConnectionRecord,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<AccessToken> {
        var fields = ["accessToken": grant.accessToken]
        fields["refreshToken"] = grant.refreshToken ?? keepRefreshToken
        let plaintext = ConnectionService.sealablePayload(fields)
        let sealer = core.sealer
        let core = self.core
        let id = connection.id
        let revision = connection.revision
        return core.write(on: eventLoop) { txn -> AccessToken in
            var record = try core.existingConnection(txn, id: id)
            guard record.revision == revision, record.status == .active,
                let sealed = sealer.seal(plaintext, associatedData: record.associatedData)
            else {
                throw RPCError(
                    .connectionUnavailable, "the connection changed during the refresh", data: ["connectionId": id.json]
                )
            }
            record.sealed = sealed
            record.expiresAt = grant.expiresAt
            if let scopes = grant.scopes { record.scopes = scopes }
            record.updatedAt = Timestamp.now()
            record.revision = try core.database.nextRevision(txn)
            try core.database.put(txn, record, changesAuthorization: false)
            return AccessToken(
                token: SecretBytes(copying: Array(grant.accessToken.utf8), storage: .transient), tokenType: "Bearer",
                expiresAt: grant.expiresAt, scopes: record.scopes ?? []
            )
        }
    }
}
