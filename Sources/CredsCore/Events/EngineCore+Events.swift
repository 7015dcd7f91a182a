import CredsProtocol
import NIOCore

/// Events that belong to no replicated change (a cooldown that starts, a refresh the provider failed): appended to
/// this host's outbox in their own transaction, which goes to LMDB alone, so they are written even while a cluster
/// database is away. Events of changes are written with the change (`CredsDatabase.put`, `putPolicy`).
extension EngineCore {
    /// Appends `drafts`; the future fails with `internal_error` (logged) when the store refuses.
    func recordEvents(_ drafts: [EventDraft], on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let events = database.events
        let logger = self.logger
        database.writer.submit({ txn in try events.append(txn, drafts) }) { result in
            promise.completeWith(
                result.map { _ in }.mapError { error in
                    logger.error("event not stored", metadata: ["store.error": "\(error)"])
                    return RPCError(.internalError, "the event could not be stored")
                })
        }
        return promise.futureResult
    }

    /// Appends `drafts` with nobody waiting (a refresh that failed in the background): no promise, so an event
    /// written after the event loops stopped (at shutdown) is still written, or its failure logged.
    func appendEvents(_ drafts: [EventDraft]) {
        let events = database.events
        let logger = self.logger
        database.writer.submit({ txn in try events.append(txn, drafts) }) { result in
            if case .failure(let error) = result {
                logger.error("event not stored", metadata: ["store.error": "\(error)"])
            }
        }
    }
}
