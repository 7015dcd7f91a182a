import CredsCrypto
import CredsProtocol
import CredsStore
import NIOCore

/// The master keys: `keys.status`, and `keys.rotate`, which re-seals every record under the active key.
struct KeyService: Sendable {
    /// Records re-sealed per transaction during rotation.
    static let rotationBatch = 256
    /// Records looked at per transaction during rotation, so a batch stays short when most are done.
    static let rotationScanLimit = 4096

    let core: EngineCore

    /// `keys.rotate`: re-seals every record under the active key, in bounded batches, each durably committed.
    /// Safe to interrupt and run again: every record is always sealed by one configured key or the other.
    func rotate(_ params: NoParams, context: CallContext) -> MethodReply {
        guard let active = core.sealer.keyRing.active else {
            return .now(
                .failure(RPCError(.encryptionKeyMissing, "no master key is configured; nothing can be re-sealed")))
        }
        let core = self.core
        let facts = context.facts
        let rotated = rotateBatch(after: nil, activeKeyId: active.id, totals: RotationTotals(), context: context)
            .flatMap { totals in
                // The rotation's own audit entry, in a write of its own like every admin write's.
                core.writeAnswer(context: context) { _ in
                    let result: JSONValue = [
                        "activeKeyId": .string(active.id), "rotated": .int(totals.rotated),
                        "unreadable": .int(totals.unreadable), "checked": .int(totals.checked),
                    ]
                    return MethodAnswer(result, facts: facts)
                }
            }
        return .later(rotated)
    }

    /// `keys.status`: the active key and how many records each key seals.
    func status(_ params: NoParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let keyRing = core.sealer.keyRing
            let counts = try core.read { txn in try core.database.keyCounts(txn) }
            let configured = keyRing.ids
            var keys: [JSONValue] = configured.enumerated().map { index, id in
                ["id": .string(id), "active": .bool(index == 0), "configured": true, "records": .int(counts[id] ?? 0)]
            }
            for (id, count) in counts.sorted(by: { $0.key < $1.key }) where !configured.contains(id) {
                keys.append(["id": .string(id), "active": false, "configured": false, "records": .int(count)])
            }
            let result: JSONValue = [
                "activeKeyId": keyRing.active.map { .string($0.id) } ?? .null, "keys": .array(keys),
            ]
            return MethodAnswer(result, facts: context.facts)
        }
    }

    /// Records sealed by keys that are not configured: they cannot be opened.
    static func unreadableRecords(_ core: EngineCore, keyRing: KeyRing) throws(RPCError) -> [String: Int64] {
        let configured = Set(keyRing.ids)
        return try core.read { txn in try core.database.keyCounts(txn) }.filter { !configured.contains($0.key) }
    }

    private func rotateBatch(
        after: [UInt8]?,
        activeKeyId: String,
        totals: RotationTotals,
        context: CallContext
    ) -> EventLoopFuture<RotationTotals> {
        let sealer = core.sealer
        let database = core.database
        return core.write(on: context.eventLoop) { txn -> (RotationTotals, [UInt8]?) in
            var totals = totals
            var last: [UInt8]?
            var resealed = 0
            var looked = 0
            var pending: [ConnectionRecord] = []
            try txn.scan(database.connections, from: after.map { $0 + [0] } ?? []) { key, value in
                last = key
                looked += 1
                if let record = try? RecordCoding.decode(ConnectionRecord.self, from: value),
                    let sealed = record.sealed, sealed.keyId != activeKeyId
                {
                    pending.append(record)
                    resealed += 1
                }
                return resealed < Self.rotationBatch && looked < Self.rotationScanLimit
            }
            totals.checked += Int64(looked)
            for var record in pending {
                guard let sealed = record.sealed,
                    let plaintext = try? sealer.open(sealed, associatedData: record.associatedData),
                    let resealedValue = sealer.seal(plaintext, associatedData: record.associatedData)
                else {
                    totals.unreadable += 1
                    continue
                }
                record.sealed = resealedValue
                try database.put(txn, record, changesAuthorization: false)
                totals.rotated += 1
            }
            let finished = looked < Self.rotationScanLimit && resealed < Self.rotationBatch
            return (totals, finished ? nil : last)
        }.flatMap { totals, next in
            guard let next else { return context.eventLoop.makeSucceededFuture(totals) }
            return self.rotateBatch(after: next, activeKeyId: activeKeyId, totals: totals, context: context)
        }
    }
}
