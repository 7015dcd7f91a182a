public import AsyncHTTPClient
import Foundation
public import NIOCore
import NIOHTTP1

/// Calls OAuth token endpoints and the GitHub API with a bounded time and a bounded reply for each call.
///
/// Redirects are never followed: a 307/308 from a token endpoint would re-send `client_secret` and
/// `refresh_token` to wherever it points. A redirect is answered to the caller as the 3xx it is.
public struct TokenEndpointClient: Sendable {
    /// The client credsd uses unless told otherwise: no redirects, on the shared event loops.
    public static let noRedirects = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow)
    )
    /// Largest reply body read; a longer one fails the call as unreachable.
    public static let maxReplyBytes = 1 << 20

    public let httpClient: HTTPClient
    /// Longest time one call may take, connect included.
    public let timeout: TimeAmount

    public init(httpClient: HTTPClient = TokenEndpointClient.noRedirects, timeout: TimeAmount = .seconds(5)) {
        self.httpClient = httpClient
        self.timeout = timeout
    }

    /// GET, asking for JSON back.
    public func get(
        _ url: String,
        headers: [(String, String)],
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<HTTPReply> {
        execute(url, method: .GET, body: nil, headers: headers, on: eventLoop)
    }

    /// `application/x-www-form-urlencoded` POST, asking for JSON back.
    public func postForm(
        _ url: String,
        form: [(String, String)],
        headers: [(String, String)] = [],
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<HTTPReply> {
        post(
            url, body: Array(FormEncoding.encode(form).utf8),
            headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers, on: eventLoop
        )
    }

    /// POST with an empty or JSON body.
    public func post(
        _ url: String,
        body: [UInt8],
        headers: [(String, String)],
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<HTTPReply> {
        execute(url, method: .POST, body: body, headers: headers, on: eventLoop)
    }

    private func execute(
        _ url: String,
        method: HTTPMethod,
        body: [UInt8]?,
        headers: [(String, String)],
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<HTTPReply> {
        let host = URL(string: url)?.host ?? "the provider"
        let request: HTTPClient.Request
        do {
            var allHeaders = HTTPHeaders([("Accept", "application/json"), ("User-Agent", "credsd")])
            for (name, value) in headers { allHeaders.replaceOrAdd(name: name, value: value) }
            request = try HTTPClient.Request(
                url: url, method: method, headers: allHeaders, body: body.map { .bytes($0) })
        } catch {
            return eventLoop.makeFailedFuture(TokenEndpointError(kind: .unreachable, host: host))
        }
        let accumulator = ResponseAccumulator(request: request, maxBodySize: Self.maxReplyBytes)
        return httpClient.execute(
            request: request, delegate: accumulator, eventLoop: .indifferent, deadline: .now() + timeout
        ).futureResult.hop(to: eventLoop).flatMapErrorThrowing { error in
            if let error = error as? HTTPClientError,
                error == .deadlineExceeded || error == .readTimeout
                    || error == .connectTimeout
            {
                throw TokenEndpointError(kind: .timeout, host: host)
            }
            throw TokenEndpointError(kind: .unreachable, host: host)
        }.map { response in
            HTTPReply(status: Int(response.status.code), body: response.body.map { Array($0.readableBytesView) } ?? [])
        }
    }
}
