public import CredsProtocol
public import NIOCore

/// A method's successful answer: the result, written as JSON when the answer is sent, and the facts its audit
/// entry and the figures take.
public struct MethodAnswer: Sendable {
    public let result: any JSONWritable
    public let facts: CallFacts
    /// `watch`: after this answer, the connection streams events (the server's `EventWatcher`).
    public var watch: WatchSubscription?

    public init(_ result: any JSONWritable, facts: CallFacts, watch: WatchSubscription? = nil) {
        self.result = result
        self.facts = facts
        self.watch = watch
    }
}

/// How a method answers: at once (no future where nothing waits), or when its I/O is done.
public enum MethodReply: Sendable {
    case now(Result<MethodAnswer, RPCError>)
    case later(EventLoopFuture<MethodAnswer>)

    /// Runs `body` now, turning what it throws into the error answer.
    static func now(_ body: () throws(RPCError) -> MethodAnswer) -> MethodReply {
        do {
            return .now(.success(try body()))
        } catch {
            return .now(.failure(error))
        }
    }
}

/// How a method is audited.
public enum MethodKind: Sendable {
    /// Not audited (reads of the admin socket, health, the catalog).
    case read
    /// An admin write: audited in its own commit when it succeeds, afterwards when it fails.
    case write
    /// A use of a credential: audited afterwards, success or failure, without delaying the answer.
    case use
}

extension MethodAnswer {
    /// The result as a JSON value (tests and fuzzing; the server writes it straight into the answer frame).
    public var json: JSONValue {
        var writer = JSONWriter()
        result.write(to: &writer)
        return (try? JSONValue.parse(writer.bytes)) ?? .null
    }
}
