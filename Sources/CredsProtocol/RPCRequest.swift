/// A JSON-RPC 2.0 request as credsd reads it: by-name params only, no batches.
///
/// The envelope is read from the frame's bytes; the params stay there (as a byte range) until the method that
/// knows them reads them into its own type (`ParamsReader`). The envelope pass checks the whole frame, params
/// included, so a syntax error anywhere is `parse_error` before any method runs.
public struct RPCRequest: Sendable {
    /// The request id, echoed in the answer; `null` when the request had none.
    public let id: JSONValue
    public let method: String
    /// Where the params object lies in the frame's bytes; nil when there are none (absent or null).
    public let paramsRange: Range<Int>?

    public init(id: JSONValue, method: String, paramsRange: Range<Int>?) {
        self.id = id
        self.method = method
        self.paramsRange = paramsRange
    }

    /// Reads a request from one frame's payload.
    ///
    /// Throws the error to answer, together with the id it should carry (`null` when none could be read).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(RPCRequestError) -> RPCRequest {
        var reader = JSONReader(bytes)
        let unreadable = RPCRequestError(id: .null, error: .unreadable)
        guard (try? reader.peek()) == .object else {
            do {
                try reader.skipValue()
                try reader.finish()
            } catch {
                throw unreadable
            }
            throw RPCRequestError(
                id: .null, error: RPCError(.invalidRequest, "a request is a JSON object; batches are not supported"))
        }
        var id: JSONValue = .null
        var version: JSONValue?
        var method: JSONValue?
        var paramsKind: JSONReader.Kind?
        var paramsRange: Range<Int>?
        var repeated: String?
        var seen: UInt8 = 0
        do {
            try reader.readObject { reader, name throws(RPCError) in
                func first(_ bit: UInt8) -> Bool {
                    defer { seen |= bit }
                    if seen & bit != 0 { repeated = name }
                    return seen & bit == 0
                }
                do {
                    switch name {
                    case "id" where first(1): id = try reader.readValue()
                    case "jsonrpc" where first(2): version = try reader.readValue()
                    case "method" where first(4): method = try reader.readValue()
                    case "params" where first(8):
                        paramsKind = try reader.peek()
                        paramsRange = try reader.skipValue()
                    default: try reader.skipValue()
                    }
                } catch {
                    throw .unreadable
                }
            }
            try reader.finish()
        } catch {
            throw unreadable
        }
        if let repeated {
            // Whatever routed the request may have read the other one.
            throw RPCRequestError(id: .null, error: RPCError(.invalidRequest, "\(repeated) is given twice"))
        }
        switch id {
        case .null, .string, .int, .double: break
        default:
            throw RPCRequestError(id: .null, error: RPCError(.invalidRequest, "id must be a string, a number or null"))
        }
        guard version == .string("2.0") else {
            throw RPCRequestError(id: id, error: RPCError(.invalidRequest, "jsonrpc must be \"2.0\""))
        }
        guard case .string(let name) = method else {
            throw RPCRequestError(id: id, error: RPCError(.invalidRequest, "method must be a string"))
        }
        switch paramsKind {
        case nil, .null: paramsRange = nil
        case .object: break
        default:
            throw RPCRequestError(id: id, error: RPCError(.invalidParams, "params must be an object of named values"))
        }
        return RPCRequest(id: id, method: name, paramsRange: paramsRange)
    }

    /// Reads a request from bytes in any collection (tests, fuzzing); `paramsRange` refers to the same bytes.
    public static func parse<Bytes: Collection>(_ bytes: Bytes) throws(RPCRequestError) -> RPCRequest
    where Bytes.Element == UInt8 {
        let result: Result<RPCRequest, RPCRequestError> = Array(bytes).withUnsafeBytes { raw in
            do throws(RPCRequestError) {
                return .success(try parse(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// A request that could not be read, with the id its error answer carries.
public struct RPCRequestError: Error, Sendable {
    public let id: JSONValue
    public let error: RPCError
}
