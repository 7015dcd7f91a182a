import CredsProtocol

/// The event outbox's methods (SPEC 11): `events.list`.
final class EventService: Sendable {
    let core: EngineCore

    init(core: EngineCore) {
        self.core = core
    }

    /// `events.list`: events after `since`, oldest first; `nextSince` for the next page (past every event looked
    /// at, matching or not).
    func list(_ params: EventsListParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let (events, scannedThrough) = try core.read { txn in
                try core.database.events.list(
                    txn, since: params.since, limit: params.limit, workspaceId: params.workspaceId)
            }
            let result: JSONValue = [
                "events": .array(events.map(\.json)),
                "nextSince": .int(Int64(clamping: scannedThrough)),
            ]
            return MethodAnswer(result, facts: context.facts)
        }
    }
}
