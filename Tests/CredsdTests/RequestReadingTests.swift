@testable import CredsCore
import CredsProtocol
import Testing

/// Requests read straight from their bytes: the envelope, then the method's own params type.
@Suite("reading requests from bytes")
struct RequestReadingTests {
    /// The request's params read as `resolve`'s, or the refusal.
    func resolveParams(_ text: String) throws -> Result<ResolveParams, RPCError> {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { raw in
            let request = try RPCRequest.parse(raw)
            do throws(RPCError) {
                return .success(try ResolveParams(raw, range: request.paramsRange))
            } catch {
                return .failure(error)
            }
        }
    }

    func refusal(_ text: String) throws -> RPCError? {
        if case .failure(let error) = try resolveParams(text) { return error }
        return nil
    }

    @Test("params are read into their type: escapes, nulls, member order and whitespace do not matter")
    func reads() throws {
        let members = #" "requiredScopes" : [ "a" , "b\u0020c" ] , "grant" : null , "provider" : "fal" "#
        let params = try resolveParams(
            #" { "params" : { "# + members + #", "workspaceId" : "w\u0073" } , "method" : "resolve" , "id" : 7 , "#
                + #""jsonrpc" : "2.0" } "#
        ).get()
        #expect(params.workspaceId == Identifier(stored: "ws"))
        #expect(params.provider == Identifier(stored: "fal"))
        #expect(params.grant == nil && params.connectionId == nil)
        #expect(params.requiredScopes == ["a", "b c"])
    }

    @Test("unknown names are refused together, sorted; a name given twice is refused")
    func unknownAndRepeated() throws {
        let unknown = try refusal(
            #"{"jsonrpc":"2.0","id":1,"method":"resolve","params":{"zeta":1,"workspaceId":"ws","provider":"fal","alpha":{}}}"#
        )
        #expect(unknown?.reason == .invalidParams)
        #expect(unknown?.data["unknown"] == ["alpha", "zeta"])
        let twice = try refusal(
            #"{"jsonrpc":"2.0","id":1,"method":"resolve","params":{"workspaceId":"ws","provider":"fal","workspaceId":"other"}}"#
        )
        #expect(twice?.reason == .invalidParams)
        #expect(twice?.data["param"] == "workspaceId")
        #expect(twice?.message.contains("other") == false)
    }

    @Test("wrong types and bad ids name the param, never the value")
    func wrongTypes() throws {
        let cases: [(String, String)] = [
            (#""workspaceId":5,"provider":"fal""#, "workspaceId"),
            (#""workspaceId":"ws","provider":"fal","requiredScopes":"all""#, "requiredScopes"),
            (#""workspaceId":"ws","provider":"fal","requiredScopes":["a",1]"#, "requiredScopes"),
            (#""workspaceId":"w s","provider":"fal""#, "workspaceId"),
            (#""workspaceId":"\u212Aelvin","provider":"fal""#, "workspaceId"),
            (#""provider":"fal""#, "workspaceId"),
        ]
        for (members, param) in cases {
            let error = try refusal(#"{"jsonrpc":"2.0","id":1,"method":"resolve","params":{"# + members + "}}")
            #expect(error?.reason == .invalidParams, "\(members)")
            #expect(error?.data["param"] == .string(param), "\(members)")
            #expect(error?.message.contains("elvin") == false)
        }
    }

    @Test("the envelope: a member given twice is invalid_request; a syntax error anywhere is parse_error")
    func envelope() {
        func reason(_ text: String) -> ErrorReason? {
            do {
                _ = try RPCRequest.parse(Array(text.utf8))
                return nil
            } catch {
                return error.error.reason
            }
        }
        #expect(reason(#"{"jsonrpc":"2.0","id":1,"method":"health","method":"resolve"}"#) == .invalidRequest)
        #expect(reason(#"{"jsonrpc":"2.0","id":1,"method":"health","params":{},"params":{"a":1}}"#) == .invalidRequest)
        #expect(reason(#"{"jsonrpc":"2.0","id":1,"method":"health","params":{"a":[1,}}"#) == .parseError)
        #expect(reason(#"{"jsonrpc":"2.0","id":1,"method":"health","extra":"\ud800"}"#) == .parseError)
        #expect(reason(#"{"jsonrpc":"2.0","id":1,"method":"health","params":[1]}"#) == .invalidParams)
        #expect(reason(#"[{"jsonrpc":"2.0","id":1,"method":"health"}]"#) == .invalidRequest)
        #expect(reason(#"{"jsonrpc":"2.0","id":1,"method":"health","params":{}} x"#) == .parseError)
        let deep =
            #"{"jsonrpc":"2.0","id":1,"method":"health","params":{"a":"# + String(repeating: "[", count: 300)
            + String(repeating: "]", count: 300) + "}}"
        #expect(reason(deep) == .parseError)
        #expect(reason(#"{"jsonrpc":"2.0","id":1,"method":"health","params":null}"#) == nil)
    }
}
