public import CredsProtocol
import CredsCrypto
import CredsStore
public import NIOCore

extension CredsEngine {
    /// Records re-sealed per transaction during rotation.
    static let rotationBatch = 256
    /// Records looked at per transaction during rotation, so a batch stays short when most are done.
    static let rotationScanLimit = 4096

    /// `keys.rotate`: re-seals every record under the active key, in bounded batches, each durably committed.
    /// Safe to interrupt and run again: every record is always sealed by one configured key or the other.
    public func keysRotate(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        do {
            _ = try Params(raw, allowed: [])
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
        guard let active = keyRing.active else {
            return context.eventLoop.makeFailedFuture(
                RPCError(.encryptionKeyMissing, "no master key is configured; nothing can be re-sealed")
            )
        }
        return rotateBatch(after: nil, activeKeyId: active.id, totals: RotationTotals(), context: context)
            .flatMap { totals in
                self.write(context: context) { _ in
                    [
                        "activeKeyId": .string(active.id), "rotated": .int(totals.rotated),
                        "unreadable": .int(totals.unreadable), "checked": .int(totals.checked),
                    ]
                }
            }
    }

    private func rotateBatch(
        after: [UInt8]?,
        activeKeyId: String,
        totals: RotationTotals,
        context: CallContext
    ) -> EventLoopFuture<RotationTotals> {
        let sealer = self.sealer
        let database = self.database
        return write(on: context.eventLoop) { txn -> (RotationTotals, [UInt8]?) in
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

/// Running totals of a rotation.
struct RotationTotals: Sendable {
    var rotated: Int64 = 0
    var unreadable: Int64 = 0
    var checked: Int64 = 0
}
