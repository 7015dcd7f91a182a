import CredsProtocol
import CredsStore

/// What the daemon says about itself: `health`, `providers.list`, `stats`.
struct InfoService: Sendable {
    let core: EngineCore

    /// `health`: `degraded` when no master key is configured or records are sealed by a key that is not.
    /// `problems` also lists warnings that leave the status `ok`: secret files their group may read (SPEC 7).
    func health(_ params: NoParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let secrets = core.secrets
            let keyRing = secrets.sealer.keyRing
            let encryption = keyRing.active != nil
            let unreadable = try KeyService.unreadableRecords(core, keyRing: keyRing)
            var problems: [JSONValue] = []
            if !encryption { problems.append("no master key is configured") }
            for (keyId, count) in unreadable.sorted(by: { $0.key < $1.key }) {
                problems.append(.string("\(count) record(s) sealed by key \(keyId), which is not configured"))
            }
            let cluster = core.cluster?.status
            if let cluster, cluster.state != .connected {
                problems.append(
                    .string(
                        cluster.state == .resyncing
                            ? "the replica is being resynced from the cluster database"
                            : "the cluster database is not reachable: serving from this host's replica"))
            }
            if let problem = cluster?.auditProblem { problems.append(.string(problem)) }
            if let cluster, cluster.unreadableRecords > 0 {
                problems.append(
                    .string(
                        "\(cluster.unreadableRecords) record(s) from the cluster database could not be read and are not served"
                    ))
            }
            let degraded = !problems.isEmpty
            problems += secrets.fileWarnings.map { .string($0) }
            var result: [String: JSONValue] = [
                "status": .string(degraded ? "degraded" : "ok"),
                "problems": .array(problems),
                "version": .string(CredsVersion.current),
                "encryption": .string(encryption ? "configured" : "missing"),
                "activeKeyId": keyRing.active.map { .string($0.id) } ?? .null,
                "builtin": .array(secrets.builtinKeys.keys.sorted().map { .string($0) }),
                "requireGrant": .bool(core.resolveConfig.requireGrant),
                "uptimeSeconds": .int(Timestamp.now().seconds(since: core.startedAt)),
            ]
            if let cluster { result["cluster"] = cluster.json }
            return MethodAnswer(JSONValue.object(result), facts: context.facts)
        }
    }

    /// `providers.list`: the catalog without secrets, and whether a built-in key is configured for each.
    func providersList(_ params: NoParams, context: CallContext) -> MethodReply {
        let builtinKeys = core.secrets.builtinKeys
        let providers: [JSONValue] = core.catalog.providers.map { provider in
            [
                "id": .string(provider.id),
                "displayName": .string(provider.displayName),
                "mode": .string(provider.mode.rawValue),
                "connectable": .bool(provider.isConnectable),
                "builtInSupported": .bool(provider.builtIn),
                "builtInConfigured": .bool(builtinKeys[provider.id] != nil),
                "fields": .array(
                    provider.fields.map { field in
                        [
                            "name": .string(field.name), "required": .bool(field.required),
                            "knownShape": field.knownShapeText.map { .string($0) } ?? .null,
                        ]
                    }),
                "headers": .array(provider.headers.map { .string($0.name) }),
            ]
        }
        return .now(.success(MethodAnswer(["providers": .array(providers)] as JSONValue, facts: context.facts)))
    }

    /// `stats`: request counts by method and reason, resolve latency percentiles, resolutions by provider and
    /// source, OAuth refreshes by outcome, open connections, store size. No secret, no client-chosen label.
    func stats(_ params: NoParams, context: CallContext) -> MethodReply {
        let environment = core.database.environment
        var snapshot = core.statistics.snapshot(
            storeBytes: Int64(environment.usedBytes), mapBytes: Int64(environment.currentMapSize))
        if let webhooks = core.webhooks, case .object(var object) = snapshot {
            object["webhooks"] = webhooks.current.json
            snapshot = .object(object)
        }
        return .now(.success(MethodAnswer(snapshot, facts: context.facts)))
    }
}
