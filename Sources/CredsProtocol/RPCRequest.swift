/// A JSON-RPC 2.0 request as credsd reads it: by-name params only, no batches.
public struct RPCRequest: Sendable {
    /// The request id, echoed in the answer; `null` when the request had none.
    public let id: JSONValue
    public let method: String
    public let params: [String: JSONValue]

    public init(id: JSONValue, method: String, params: [String: JSONValue]) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// Reads a request from one frame's payload.
    ///
    /// Throws the error to answer, together with the id it should carry (`null` when none could be read).
    public static func parse<Bytes: Collection>(_ bytes: Bytes) throws(RPCRequestError) -> RPCRequest
    where Bytes.Element == UInt8 {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw RPCRequestError(id: .null, error: RPCError(.parseError, "the frame is not valid UTF-8 JSON"))
        }
        guard case .object(let members) = value else {
            throw RPCRequestError(
                id: .null,
                error: RPCError(.invalidRequest, "a request is a JSON object; batches are not supported")
            )
        }
        let id = members["id"] ?? .null
        switch id {
        case .null, .string, .int, .double: break
        default:
            throw RPCRequestError(id: .null, error: RPCError(.invalidRequest, "id must be a string, a number or null"))
        }
        guard members["jsonrpc"] == .string("2.0") else {
            throw RPCRequestError(id: id, error: RPCError(.invalidRequest, "jsonrpc must be \"2.0\""))
        }
        guard case .string(let method) = members["method"] else {
            throw RPCRequestError(id: id, error: RPCError(.invalidRequest, "method must be a string"))
        }
        let params: [String: JSONValue]
        switch members["params"] {
        case nil, .null: params = [:]
        case .object(let object): params = object
        default:
            throw RPCRequestError(id: id, error: RPCError(.invalidParams, "params must be an object of named values"))
        }
        return RPCRequest(id: id, method: method, params: params)
    }
}

/// A request that could not be read, with the id its error answer carries.
public struct RPCRequestError: Error, Sendable {
    public let id: JSONValue
    public let error: RPCError
}
