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

    @Test("thousands of unknown names are refused after the first 32, in time linear in the frame")
    func manyUnknownNames() throws {
        let names = (0..<10_000).map { #""n\#($0)":0"# }.joined(separator: ",")
        let error = try refusal(
            #"{"jsonrpc":"2.0","id":1,"method":"resolve","params":{"workspaceId":"ws","provider":"fal","#
                + names + "}}")
        #expect(error?.reason == .invalidParams)
        #expect(error?.data["unknown"]?.arrayValue?.count == ParamsReader.maxUnknownNamed)
    }

    @Test("a name given twice inside a value (a credential payload) is refused, KELVIN SIGN look-alikes included")
    func nestedDuplicates() {
        for text in [#"{"apiKey":"a","apiKey":"b"}"#, #"{"apiKey":"visible","api\u212Aey":"hidden"}"#] {
            #expect(throws: (any Error).self, "\(text)") { try JSONValue.parse(Array(text.utf8)) }
        }
        #expect((try? JSONValue.parse(Array(#"{"apiKey":"a","apikey":"b"}"#.utf8))) != nil)
    }

    /// `Params` read from `params` (a JSON object's text), or the refusal.
    func read<Params: MethodParams>(_ type: Params.Type, _ params: String) -> RPCError? {
        let bytes = Array(params.utf8)
        return bytes.withUnsafeBytes { raw in
            do throws(RPCError) {
                _ = try Params(raw, range: 0..<raw.count)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test("displayName refuses control characters; a webhook header given twice in two cases is refused")
    func freeTextAndHeaders() {
        let upsert = #""workspaceId":"ws","provider":"fal","credentialPayload":{},"actor":"a""#
        #expect(read(ConnectionsUpsertParams.self, "{" + upsert + #","displayName":"ok name é""# + "}") == nil)
        for bad in [#""a\u0000b""#, #""line\nbreak""#, #""\u007f""#, #""\u009b""#, #""""#] {
            let error = read(ConnectionsUpsertParams.self, "{" + upsert + #","displayName":"# + bad + "}")
            #expect(error?.reason == .invalidParams, "\(bad)")
        }
        let verify = #""workspaceId":"ws","provider":"resend","body":"{}""#
        let once = #""headers":{"svix-id":"m","Svix-Timestamp":"1","svix-signature":"v1,x"}"#
        #expect(read(EventsVerifyParams.self, "{" + verify + "," + once + "}") == nil)
        let twice = #""headers":{"svix-id":"m","SVIX-ID":"n","svix-timestamp":"1","svix-signature":"v1,x"}"#
        #expect(read(EventsVerifyParams.self, "{" + verify + "," + twice + "}")?.reason == .invalidParams)
    }
}
