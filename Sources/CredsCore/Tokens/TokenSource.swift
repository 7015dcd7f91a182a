import CredsProtocol
import NIOCore

/// Where an OAuth connection's access tokens come from: Google refreshes a stored token, GitHub mints
/// installation tokens. `TokenService` runs the same state machine over either.
protocol TokenSource: Sendable {
    /// The token on hand (stored or cached), fresh or not; nil when there is none.
    func current(_ connection: ConnectionRecord, fields: [String: String]) throws(RPCError) -> AccessToken?

    /// Why a new token cannot be asked for at all (the provider is not configured, nothing to refresh with), as
    /// `upstream_unavailable` (the current token may still serve) or a decided error; nil when it can.
    func unavailable(_ connection: ConnectionRecord, fields: [String: String]) -> RPCError?

    /// A refusal decided without asking the provider (a record credsd will not serve until it is authorized
    /// again); nil to go on.
    func refusedWithoutAsking(_ connection: ConnectionRecord, fields: [String: String]) -> String?

    /// Asks the provider for a new token and keeps it (sealed in the store, or in memory) before answering.
    /// A transport failure fails the future.
    func fetch(_ connection: ConnectionRecord, fields: [String: String], on eventLoop: any EventLoop)
        -> EventLoopFuture<TokenReply>
}

extension TokenSource {
    func refusedWithoutAsking(_ connection: ConnectionRecord, fields: [String: String]) -> String? { nil }
}

/// What a provider answered to a refresh or mint.
enum TokenReply: Sendable {
    /// A new token, already kept.
    case issued(AccessToken)
    /// The provider refuses for good (Google `invalid_grant`, GitHub 404): the user must authorize again.
    case refused(String)
    /// Any other answer: try again later.
    case failed(httpStatus: Int)
}
