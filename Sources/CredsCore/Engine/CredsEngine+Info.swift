public import CredsProtocol
import CredsStore

extension CredsEngine {
    /// `health`: `degraded` when no master key is configured or records are sealed by a key that is not.
    /// `problems` also lists warnings that leave the status `ok`: secret files their group may read (SPEC 7).
    public func health(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        _ = try Params(raw, allowed: [])
        let encryption = keyRing.active != nil
        let unreadable = try unreadableRecords()
        var problems: [JSONValue] = []
        if !encryption { problems.append("no master key is configured") }
        for (keyId, count) in unreadable.sorted(by: { $0.key < $1.key }) {
            problems.append(.string("\(count) record(s) sealed by key \(keyId), which is not configured"))
        }
        let degraded = !problems.isEmpty
        problems += secretFileWarnings.map { .string($0) }
        return [
            "status": .string(degraded ? "degraded" : "ok"),
            "problems": .array(problems),
            "version": .string(CredsVersion.current),
            "encryption": .string(encryption ? "configured" : "missing"),
            "activeKeyId": keyRing.active.map { .string($0.id) } ?? .null,
            "builtin": .array(builtinKeys.keys.sorted().map { .string($0) }),
            "requireGrant": .bool(resolveConfig.requireGrant),
            "uptimeSeconds": .int((Timestamp.now() - startedAt) / 1_000_000),
        ]
    }

    /// `providers.list`: the catalog without secrets, and whether a built-in key is configured for each.
    public func providersList(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        _ = try Params(raw, allowed: [])
        let providers: [JSONValue] = catalog.providers.map { provider in
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
        return ["providers": .array(providers)]
    }

    /// `keys.status`: the active key and how many records each key seals.
    public func keysStatus(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        _ = try Params(raw, allowed: [])
        let counts = try read { txn in try database.keyCounts(txn) }
        let configured = keyRing.ids
        var keys: [JSONValue] = configured.enumerated().map { index, id in
            ["id": .string(id), "active": .bool(index == 0), "configured": true, "records": .int(counts[id] ?? 0)]
        }
        for (id, count) in counts.sorted(by: { $0.key < $1.key }) where !configured.contains(id) {
            keys.append(["id": .string(id), "active": false, "configured": false, "records": .int(count)])
        }
        return ["activeKeyId": keyRing.active.map { .string($0.id) } ?? .null, "keys": .array(keys)]
    }

    /// Records sealed by keys that are not configured: they cannot be opened.
    func unreadableRecords() throws(RPCError) -> [String: Int64] {
        let configured = Set(keyRing.ids)
        return try read { txn in try database.keyCounts(txn) }.filter { !configured.contains($0.key) }
    }
}
