import CredsProtocol
import Foundation
import Testing

@Suite("the JSON parser")
struct JSONParserTests {
    @Test(
        "valid documents parse to the values Foundation reads",
        arguments: [
            #"{"a":1,"b":[true,false,null],"c":"x\"y\\z\/\n\t\u00e9\ud83d\ude00","d":-12.345,"e":{}}"#,
            #"[]"#, #"  [ 1 , 2 ,3 ] "#, #""plain""#, #"0"#, #"-0.5"#, #"1E2"#, #"9223372036854775807"#,
            #"{"nested":[[[[{"k":"v"}]]]]}"#, #""é ü 中文""#,
        ])
    func valid(_ text: String) throws {
        let ours = try JSONValue.parse(Array(text.utf8))
        let theirs = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(ours == theirs || (ours.intValue != nil && ours.intValue == theirs.intValue))
        #expect(try JSONValue.parse(ours.serialized()) == ours)
    }

    @Test(
        "invalid documents are refused",
        arguments: [
            "", "{", "}", "[1,]", "{\"a\":}", "{\"a\" 1}", "tru", "nul", "01", "1.", ".5", "-", "1e", "\"abc",
            "\"a\u{01}b\"", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "[1] 2", "{\"a\":1,}", "NaN", "Infinity", "1e999",
        ])
    func invalid(_ text: String) {
        #expect(throws: (any Error).self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test("invalid UTF-8 and deep nesting are refused without crashing")
    func hostileInput() {
        #expect(throws: (any Error).self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
        #expect(throws: (any Error).self) { try JSONValue.parse([0x22, 0xC3, 0x22]) }
        let deep =
            Array(repeating: UInt8(ascii: "["), count: 100_000) + Array(repeating: UInt8(ascii: "]"), count: 100_000)
        #expect(throws: (any Error).self) { try JSONValue.parse(deep) }
        let fine = Array(repeating: UInt8(ascii: "["), count: 200) + Array(repeating: UInt8(ascii: "]"), count: 200)
        #expect((try? JSONValue.parse(fine)) != nil)
    }
}
