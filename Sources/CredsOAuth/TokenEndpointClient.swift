public import AsyncHTTPClient
import Foundation
public import NIOCore
import NIOHTTP1

/// POSTs to OAuth token endpoints and the GitHub API with a bounded time for each call.
public struct TokenEndpointClient: Sendable {
    public let httpClient: HTTPClient
    /// Longest time one call may take, connect included.
    public let timeout: TimeAmount

    public init(httpClient: HTTPClient = .shared, timeout: TimeAmount = .seconds(5)) {
        self.httpClient = httpClient
        self.timeout = timeout
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
        let host = URL(string: url)?.host ?? "the provider"
        let request: HTTPClient.Request
        do {
            var allHeaders = HTTPHeaders([("Accept", "application/json"), ("User-Agent", "credsd")])
            for (name, value) in headers { allHeaders.replaceOrAdd(name: name, value: value) }
            request = try HTTPClient.Request(url: url, method: .POST, headers: allHeaders, body: .bytes(body))
        } catch {
            return eventLoop.makeFailedFuture(TokenEndpointError(kind: .unreachable, host: host))
        }
        return httpClient.execute(
            request: request, eventLoop: .indifferent, deadline: .now() + timeout
        ).hop(to: eventLoop).flatMapErrorThrowing { error in
            if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout
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
