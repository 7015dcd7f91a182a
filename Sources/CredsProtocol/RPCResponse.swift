/// Builds JSON-RPC 2.0 answers.
public enum RPCResponse {
    /// `{"jsonrpc":"2.0","id":…,"result":…}` as UTF-8 JSON.
    public static func success(id: JSONValue, result: JSONValue) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "id": id, "result": result]).serialized()
    }

    /// `{"jsonrpc":"2.0","id":…,"error":{code, message, data:{reason,…}}}` as UTF-8 JSON.
    public static func failure(id: JSONValue, error: RPCError) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "id": id, "error": error.json]).serialized()
    }
}
