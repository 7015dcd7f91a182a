public import CredsProtocol
import CredsStore

extension CredsEngine {
    /// `health`: `degraded` when no master key is configured.
    public func health(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        _ = try Params(raw, allowed: [])
        let encryption = keyRing.active != nil
        return [
            "status": .string(encryption ? "ok" : "degraded"),
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
                "fields": .array(provider.fields.map { field in
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
        let counts = try read { txn in
            var counts: [String: Int64] = [:]
            try txn.scan(database.connections, prefix: []) { _, value in
                if let record = try? RecordCoding.decode(ConnectionRecord.self, from: value), let sealed = record.sealed {
                    counts[sealed.keyId, default: 0] += 1
                }
                return true
            }
            return counts
        }
        let configured = keyRing.ids
        var keys: [JSONValue] = configured.enumerated().map { index, id in
            ["id": .string(id), "active": .bool(index == 0), "configured": true, "records": .int(counts[id] ?? 0)]
        }
        for (id, count) in counts.sorted(by: { $0.key < $1.key }) where !configured.contains(id) {
            keys.append(["id": .string(id), "active": false, "configured": false, "records": .int(count)])
        }
        return ["activeKeyId": keyRing.active.map { .string($0.id) } ?? .null, "keys": .array(keys)]
    }
}
