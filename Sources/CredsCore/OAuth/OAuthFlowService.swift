import CredsCatalog
public import CredsProtocol
import CredsCrypto
import CredsOAuth
import CredsStore
public import NIOCore

/// The OAuth flows that create and re-authorize connections: `oauth.begin` (a pending connection, a single-use
/// state, where to send the user) and `oauth.complete` (the code exchange, GitHub's installation check, the
/// tokens sealed into the connection).
struct OAuthFlowService: Sendable {
    /// How long an authorization `state` may be used.
    static let oauthStateLifetime: Int64 = 600
    /// Google scopes asked for when `oauth.begin` names none: Drive files the app opens or creates, and Sheets.
    static let defaultGoogleScopes = [
        "https://www.googleapis.com/auth/drive.file", "https://www.googleapis.com/auth/spreadsheets",
    ]

    let core: EngineCore
    let oauth: OAuthSettings
    let tokenClient: TokenEndpointClient

    /// `oauth.begin`: a pending connection (or a re-authorization), a single-use state, and where to send the user.
    func begin(_ params: OAuthBeginParams, context: CallContext) -> MethodReply {
        let begin: OAuthBegin
        do {
            begin = try prepareBegin(params)
        } catch {
            return .now(.failure(error))
        }
        let core = self.core
        let database = core.database
        var facts = context.facts
        facts.connectionId = begin.connectionId
        return core.write(context: context) { [facts] txn in
            try core.authorize(txn, actor: begin.actor, workspaceId: begin.workspaceId, write: true)
            var stateRecord = begin.record
            if let existing = begin.existingConnectionId {
                stateRecord.connectionVersion =
                    try core.ownedConnection(
                        txn, id: existing, workspaceId: begin.workspaceId, provider: begin.provider.identifier
                    ).authorizationVersion
            } else {
                let now = Timestamp.now()
                var pending = ConnectionRecord(
                    id: begin.connectionId, workspaceId: begin.workspaceId, provider: begin.provider.identifier,
                    displayName: begin.displayName, mode: .oauthUser, status: .pending, scopes: nil, expiresAt: nil,
                    lastError: nil, createdAt: now, updatedAt: now, revision: 0, sealed: nil
                )
                pending.revision = try database.nextRevision(txn)
                try database.put(txn, pending)
                stateRecord.connectionVersion = pending.revision
            }
            // Not on a cluster host (see `GrantService.issue`); an expired state is refused by its expiry.
            if core.cluster == nil { try database.sweepExpiredOAuthStates(txn, now: Timestamp.now()) }
            try txn.put(database.oauthStates, begin.stateDigest, RecordCoding.encode(stateRecord))
            let result: JSONValue = [
                "connectionId": begin.connectionId.json, "state": .string(begin.state),
                "authorizationUrl": .string(begin.authorizationUrl),
                "expiresAt": .string(begin.record.expiresAt.rfc3339),
                "workspaceId": begin.workspaceId.json, "provider": .string(begin.provider.id),
            ]
            return MethodAnswer(result, facts: facts)
        }
    }

    private func prepareBegin(_ params: OAuthBeginParams) throws(RPCError) -> OAuthBegin {
        let workspaceId = params.workspaceId
        let provider = try core.catalog.connectableProvider(params.provider)
        let displayName = params.displayName
        let redirectUri = params.redirectUri
        let requested = params.scopes
        let existing = params.connectionId
        let actor = params.actor
        guard provider.mode == .oauthUser else {
            throw RPCError(.invalidParams, "\(provider.displayName) uses API keys: store one with connections.upsert")
        }
        try core.read { txn in try core.authorize(txn, actor: actor, workspaceId: workspaceId, write: true) }
        let sealer = core.sealer
        guard sealer.keyRing.active != nil else {
            throw RPCError(.encryptionKeyMissing, "no master key is configured; credsd cannot store tokens")
        }
        let state = Random.token(prefix: "st_", byteCount: 32)
        let stateDigest = Digest.sha256(state.utf8)
        let connectionId = existing ?? Identifier(stored: Random.token(prefix: "conn_", byteCount: 12))
        let expiresAt = Timestamp.now() + .seconds(Self.oauthStateLifetime)
        let scopes = requested ?? (provider.id == "google-workspace" ? Self.defaultGoogleScopes : [])
        let authorizationUrl: String
        var sealedVerifier: SealedValue?
        switch provider.id {
        case "google-workspace":
            guard let google = oauth.google else { throw Self.notConfigured(provider) }
            let verifier = Random.token(prefix: "", byteCount: 48)
            sealedVerifier = sealer.seal(
                SecretBytes(copying: Array(verifier.utf8), storage: .transient),
                associatedData: OAuthStateRecord.verifierAssociatedData(stateDigest: stateDigest)
            )
            authorizationUrl = FormEncoding.url(
                google.authorizeUrl,
                adding: [
                    ("client_id", google.clientId), ("redirect_uri", redirectUri), ("response_type", "code"),
                    ("scope", scopes.joined(separator: " ")), ("state", state),
                    ("code_challenge", PKCE.challenge(for: verifier)), ("code_challenge_method", "S256"),
                    ("access_type", "offline"), ("prompt", "consent"), ("include_granted_scopes", "true"),
                ]
            )
        case "github":
            // Completing needs the code exchange (the installation is checked against the user's list).
            guard let github = oauth.github, github.clientId != nil, github.clientSecret != nil else {
                throw Self.notConfigured(provider)
            }
            authorizationUrl = FormEncoding.url(github.installUrl, adding: [("state", state)])
        default:
            throw Self.notConfigured(provider)
        }
        let record = OAuthStateRecord(
            workspaceId: workspaceId, provider: provider.identifier, connectionId: connectionId, actor: actor,
            redirectUri: redirectUri, scopes: scopes, expiresAt: expiresAt, sealedVerifier: sealedVerifier
        )
        return OAuthBegin(
            workspaceId: workspaceId, provider: provider, displayName: displayName, actor: actor,
            existingConnectionId: existing, connectionId: connectionId, state: state, stateDigest: stateDigest,
            authorizationUrl: authorizationUrl, record: record
        )
    }

    static func notConfigured(_ provider: Provider) -> RPCError {
        RPCError(
            .invalidParams,
            "OAuth for \(provider.displayName) is not configured on this daemon ([oauth.\(provider.id)])",
            data: ["provider": .string(provider.id)]
        )
    }

    /// `oauth.complete`: uses the state once, exchanges the code (and for GitHub checks the installation),
    /// stores the tokens.
    func complete(_ params: OAuthCompleteParams, context: CallContext) -> MethodReply {
        let stateDigest = Digest.sha256(params.state.utf8)
        let code = params.code
        let installationId = params.installationId
        let providerError = params.error
        // Missing params are refused before the state is used up, so the same state can still be completed.
        // GitHub's installation id comes back through the browser and can be forged: it needs a code too.
        do throws(RPCError) {
            if providerError == nil, code == nil || installationId == nil,
                let pending = try core.read({ txn in try txn.get(core.database.oauthStates, stateDigest) }),
                let provider = (try? RecordCoding.decode(OAuthStateRecord.self, from: pending))?.provider.text
            {
                if provider == "github" {
                    throw RPCError.invalidParams(
                        "code and installationId are required to complete a GitHub installation")
                }
                if code == nil { throw RPCError.invalidParams("code is required to complete a Google authorization") }
            }
        } catch {
            return .now(.failure(error))
        }
        let database = core.database
        return .later(
            core.write(on: context.eventLoop) { txn -> CompletingState? in
                guard let bytes = try txn.get(database.oauthStates, stateDigest) else { return nil }
                try txn.delete(database.oauthStates, stateDigest)
                let record = try RecordCoding.decode(OAuthStateRecord.self, from: bytes)
                guard record.expiresAt > Timestamp.now(),
                    let connection = try database.connection(txn, id: record.connectionId)
                else { return nil }
                if let began = record.connectionVersion, began != connection.authorizationVersion {
                    throw RPCError(
                        .invalidState,
                        "the connection changed since this authorization began (revoked, renamed or re-authorized); "
                            + "start again with oauth.begin",
                        data: ["connectionId": connection.id.json])
                }
                return CompletingState(record: record, revision: connection.authorizationVersion)
            }.flatMap { state -> EventLoopFuture<MethodAnswer> in
                guard let state else {
                    return context.eventLoop.makeFailedFuture(
                        RPCError(
                            .invalidState, "the state is unknown, already used or expired; start again with oauth.begin"
                        )
                    )
                }
                if let providerError {
                    return self.markError(
                        state, "authorization refused: \(Self.printable(providerError))", context: context)
                }
                switch state.record.provider.text {
                case "google-workspace":
                    return self.completeGoogle(state, code: code, stateDigest: stateDigest, context: context)
                default: return self.completeGitHub(state, code: code, installationId: installationId, context: context)
                }
            })
    }

    private func completeGoogle(
        _ completing: CompletingState,
        code: String?,
        stateDigest: [UInt8],
        context: CallContext
    ) -> EventLoopFuture<MethodAnswer> {
        guard let code else {
            return context.eventLoop.makeFailedFuture(
                RPCError.invalidParams("code is required to complete a Google authorization"))
        }
        let state = completing.record
        guard let google = oauth.google, let sealed = state.sealedVerifier,
            let verifier = try? core.sealer.open(
                sealed, associatedData: OAuthStateRecord.verifierAssociatedData(stateDigest: stateDigest))
        else {
            return markError(completing, "the authorization could not be completed on this daemon", context: context)
        }
        let form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", state.redirectUri),
            ("client_id", google.clientId),
            ("client_secret", google.clientSecret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }),
            ("code_verifier", verifier.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }),
        ]
        return exchange(google.tokenUrl, form: form, state: completing, context: context) { grant, previous in
            var fields = ["accessToken": grant.accessToken]
            if let refresh = grant.refreshToken ?? previous["refreshToken"] { fields["refreshToken"] = refresh }
            return context.eventLoop.makeSucceededFuture((fields, grant.expiresAt, grant.scopes ?? state.scopes))
        }
    }

    /// GitHub: the code proves who came back from the installation; the installation is accepted only if that
    /// user's `GET /user/installations` lists it (SPEC section 6). The user token is kept sealed, never answered.
    private func completeGitHub(
        _ completing: CompletingState,
        code: String?,
        installationId: Int64?,
        context: CallContext
    ) -> EventLoopFuture<MethodAnswer> {
        guard let code, let installationId else {
            return context.eventLoop.makeFailedFuture(
                RPCError.invalidParams("code and installationId are required to complete a GitHub installation")
            )
        }
        let state = completing.record
        guard let github = oauth.github, let clientId = github.clientId, let clientSecret = github.clientSecret else {
            return markError(
                completing, "the GitHub App's clientId and clientSecretFile are not configured", context: context)
        }
        let form = [
            ("client_id", clientId),
            ("client_secret", clientSecret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }),
            ("code", code), ("redirect_uri", state.redirectUri),
        ]
        let deadline = NIODeadline.now() + Self.installationCheckTime
        return exchange(github.tokenUrl, form: form, state: completing, context: context) { grant, _ in
            self.installationListed(
                installationId, userToken: grant.accessToken, settings: github, page: 1, deadline: deadline,
                on: context.eventLoop
            )
            .flatMap { listed in
                guard listed else {
                    let message = "the installation is not one the authorizing GitHub user can access"
                    return self.markError(completing, message, context: context).flatMapThrowing { _ in
                        throw RPCError(.forbidden, message, data: ["connectionId": state.connectionId.json])
                    }
                }
                var fields = ["installationId": String(installationId), "userAccessToken": grant.accessToken]
                if let refresh = grant.refreshToken { fields["userRefreshToken"] = refresh }
                return context.eventLoop.makeSucceededFuture((fields, nil, []))
            }
        }
    }

    /// Longest time the whole installation check may take, however many pages GitHub serves and how slowly.
    static let installationCheckTime = TimeAmount.seconds(30)

    /// Whether `GET {apiBaseUrl}/user/installations` lists the installation, reading page after page. Pages are
    /// asked for by number on the configured URL (a `Link` header from the reply is not followed). 401 and 404
    /// mean the user token sees no such list; 403 (GitHub's rate limit), other failures and running past
    /// `deadline` are `upstream_unavailable`, not a verdict.
    private func installationListed(
        _ installationId: Int64,
        userToken: String,
        settings: GitHubAppSettings,
        page: Int,
        deadline: NIODeadline,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Bool> {
        guard NIODeadline.now() < deadline else {
            return eventLoop.makeFailedFuture(
                RPCError(.upstreamUnavailable, "the GitHub installation check took longer than it may")
            )
        }
        let url = "\(settings.apiBaseUrl)/user/installations?per_page=\(GitHubInstallationPage.perPage)&page=\(page)"
        let headers = [
            ("Authorization", "Bearer \(userToken)"), ("Accept", "application/vnd.github+json"),
            ("X-GitHub-Api-Version", "2022-11-28"),
        ]
        return tokenClient.get(url, headers: headers, on: eventLoop).flatMapThrowing {
            reply -> GitHubInstallationPage? in
            if reply.status == 401 || reply.status == 404 { return nil }
            guard reply.isSuccess, let json = try? JSONValue.parse(reply.body),
                let parsed = GitHubInstallationPage(json: json)
            else {
                throw RPCError(
                    .upstreamUnavailable, "the GitHub API answered HTTP \(reply.status) to the installation check")
            }
            return parsed
        }.flatMap { parsed in
            guard let parsed else { return eventLoop.makeSucceededFuture(false) }
            if parsed.lists(installationId, appId: Int64(settings.appId)) { return eventLoop.makeSucceededFuture(true) }
            guard parsed.hasMore(page: page) else { return eventLoop.makeSucceededFuture(false) }
            return self.installationListed(
                installationId, userToken: userToken, settings: settings, page: page + 1, deadline: deadline,
                on: eventLoop
            )
        }
    }

    /// POSTs a code exchange and stores what `fields` makes of the answer; a refusal marks the connection `error`.
    /// A transport failure (of the exchange or of a check `fields` makes) marks it too and answers
    /// `upstream_unavailable`.
    private func exchange(
        _ url: String,
        form: [(String, String)],
        state completing: CompletingState,
        context: CallContext,
        fields:
            @escaping @Sendable (TokenGrant, [String: String]) -> EventLoopFuture<
                ([String: String], Timestamp?, [String])
            >
    ) -> EventLoopFuture<MethodAnswer> {
        let state = completing.record
        return tokenClient.postForm(url, form: form, on: context.eventLoop).flatMap { reply in
            let json = try? JSONValue.parse(reply.body)
            if reply.isSuccess, let json, json["error"] == nil, let grant = TokenGrant(json: json, now: Timestamp.now())
            {
                let core = self.core
                let previous =
                    (try? core.read { txn in try core.database.connection(txn, id: state.connectionId) })
                    .flatMap { $0 }.flatMap { try? core.openPayload($0, sealer: core.sealer) } ?? [:]
                return fields(grant, previous).flatMap { payload, expiresAt, scopes in
                    self.storeTokens(
                        completing, fields: payload, expiresAt: expiresAt, scopes: scopes, context: context)
                }
            }
            let reason = json?["error"]?.stringValue.map(Self.printable) ?? "HTTP \(reply.status)"
            return self.markError(completing, "the token exchange was refused: \(reason)", context: context)
        }.flatMapError { error in
            let message: String
            switch error {
            case let transport as TokenEndpointError: message = "\(transport)"
            case let refused as RPCError where refused.reason == .upstreamUnavailable: message = refused.message
            default: return context.eventLoop.makeFailedFuture(error)
            }
            return self.markError(completing, "the provider failed: \(message)", context: context)
                .flatMapThrowing { _ in
                    throw RPCError(.upstreamUnavailable, "\(message); start again with oauth.begin")
                }
        }
    }

    /// Seals the tokens into the connection and makes it `active`.
    func storeTokens(
        _ completing: CompletingState,
        fields: [String: String],
        expiresAt: Timestamp?,
        scopes: [String],
        context: CallContext
    ) -> EventLoopFuture<MethodAnswer> {
        let plaintext = ConnectionService.sealablePayload(fields)
        let core = self.core
        let sealer = core.sealer
        let database = core.database
        let state = completing.record
        return core.writeAnswer(context: context) { txn in
            var record = try core.ownedConnection(
                txn, id: state.connectionId, workspaceId: state.workspaceId, provider: state.provider)
            // A revoke, delete or other write while the provider was being asked wins over this completion.
            guard record.authorizationVersion == completing.revision else { throw Self.changedDuringCompletion(state) }
            // States are deleted when their connection is revoked or their actor loses `write`; this holds
            // the line for states stored before that, and for an actor whose role changed mid-flow.
            if let actor = state.actor {
                try core.authorize(txn, actor: actor, workspaceId: state.workspaceId, write: true)
            }
            guard let sealed = sealer.seal(plaintext, associatedData: record.associatedData) else {
                throw RPCError(.encryptionKeyMissing, "no master key is configured; credsd cannot store tokens")
            }
            record.sealed = sealed
            record.status = .active
            record.statusReason = "authorized"
            record.lastError = nil
            record.expiresAt = expiresAt
            record.scopes = scopes
            record.updatedAt = Timestamp.now()
            record.revision = try database.nextRevision(txn)
            try database.put(txn, record)
            return MethodAnswer(["connection": record.publicJSON] as JSONValue, facts: completing.facts)
        }
    }

    /// Sets the connection of a completion to `error` with `lastError`, and answers it; unless the connection
    /// changed since the state was used (then `invalid_state`, and the connection is left as it is).
    private func markError(_ completing: CompletingState, _ message: String, context: CallContext) -> EventLoopFuture<
        MethodAnswer
    > {
        let state = completing.record
        let core = self.core
        return core.writeAnswer(context: context) { txn in
            let record = try core.setErrorStatus(
                txn, connectionId: state.connectionId, message: message, reason: "authorization_failed",
                if: { $0.authorizationVersion == completing.revision }, else: Self.changedDuringCompletion(state)
            )
            return MethodAnswer(["connection": record.publicJSON] as JSONValue, facts: completing.facts)
        }
    }

    static func changedDuringCompletion(_ state: OAuthStateRecord) -> RPCError {
        RPCError(
            .invalidState, "the connection changed while the authorization was completed; start again with oauth.begin",
            data: ["connectionId": state.connectionId.json]
        )
    }

    /// Provider-supplied text cut to something safe to store and show: 100 printable ASCII characters.
    static func printable(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }.prefix(100)))
    }
}

/// A state being completed, with the authorization revision its connection had when the state was used up
/// (token refreshes and re-seals do not move it; every other write does).
struct CompletingState: Sendable {
    let record: OAuthStateRecord
    let revision: UInt64

    /// The audit facts of the completion: the connection the state was for.
    var facts: CallFacts {
        CallFacts(workspaceId: record.workspaceId, provider: record.provider, connectionId: record.connectionId)
    }
}

/// Everything `oauth.begin` worked out before its write.
private struct OAuthBegin: Sendable {
    let workspaceId: Identifier
    let provider: Provider
    let displayName: String
    let actor: Identifier
    let existingConnectionId: Identifier?
    let connectionId: Identifier
    let state: String
    let stateDigest: [UInt8]
    let authorizationUrl: String
    let record: OAuthStateRecord
}
