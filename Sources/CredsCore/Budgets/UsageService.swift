import CredsCatalog
import CredsProtocol
import NIOCore

/// `usage.get` (SPEC 12): a workspace's usage per UTC day and provider. In cluster mode the figures are every
/// host's: this host's from its store, the others' as they last shipped them (within about a second).
struct UsageService: Sendable {
    let core: EngineCore

    private typealias Days = [Identifier: [UTCDay: UsageCounts]]

    func get(_ params: UsageGetParams, context: CallContext) -> MethodReply {
        do throws(RPCError) {
            if let provider = params.provider { _ = try core.catalog.connectableProvider(provider) }
            try core.read { txn in
                try core.authorize(txn, actor: params.actor, workspaceId: params.workspaceId, write: false)
            }
        } catch {
            return .now(.failure(error))
        }
        let local = Self.localDays(core, params, on: context.eventLoop)
        guard let cluster = core.cluster else {
            return .later(local.map { MethodAnswer(Self.answer(params, $0), facts: context.facts) })
        }
        return .later(
            local.flatMap { local in
                let promise = context.eventLoop.makePromise(of: MethodAnswer.self)
                promise.completeWithTask {
                    var days = local
                    let others = try await cluster.otherHostsUsage(
                        workspaceId: params.workspaceId.text, provider: params.provider?.text, from: params.from,
                        to: params.to)
                    for row in others {
                        days[Identifier(stored: row.provider), default: [:]][row.day, default: UsageCounts()].add(
                            UsageCounts(stored: row.counts))
                    }
                    return MethodAnswer(Self.answer(params, days), facts: context.facts)
                }
                return promise.futureResult
            })
    }

    /// This host's figures, everything counted before the call included: what is counted goes to the store with
    /// the next audit batch, and the store is read by a writer job queued after it (a read beside the writer could
    /// fall between a batch's drain and its commit, and see neither).
    private static func localDays(_ core: EngineCore, _ params: UsageGetParams, on eventLoop: any EventLoop)
        -> EventLoopFuture<Days>
    {
        core.auditWriter.flushUsage()
        let database = core.database
        let logger = core.logger
        let promise = eventLoop.makePromise(of: Days.self)
        database.writer.submit({ txn in
            try database.usageDays(
                txn, workspaceId: params.workspaceId, provider: params.provider, from: params.from, to: params.to)
        }) { result in
            promise.completeWith(
                result.mapError { error in
                    logger.error("usage not read", metadata: ["store.error": "\(error)"])
                    return RPCError(.internalError, "the store could not be read")
                })
        }
        return promise.futureResult
    }

    private static func answer(_ params: UsageGetParams, _ days: Days) -> JSONValue {
        var rows: [(day: UTCDay, provider: String, counts: UsageCounts)] = []
        for (provider, byDay) in days {
            for (day, counts) in byDay where !counts.isEmpty { rows.append((day, provider.text, counts)) }
        }
        rows.sort { ($0.day, $0.provider) < ($1.day, $1.provider) }
        return [
            "workspaceId": params.workspaceId.json,
            "from": .string(params.from.description), "to": .string(params.to.description),
            "days": .array(
                rows.map { row in
                    var object = row.counts.json
                    object["day"] = .string(row.day.description)
                    object["provider"] = .string(row.provider)
                    return .object(object)
                }),
        ]
    }
}
