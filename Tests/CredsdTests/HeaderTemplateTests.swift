@testable import CredsCore
import CredsProtocol
import Testing

@Suite("header templates")
struct HeaderTemplateTests {
    @Test(
        "fields are filled in one pass; unknown and unclosed braces stay; values are escaped in the answer",
        arguments: [
            ("Key {apiKey}", ["apiKey": "k1"], "Key k1"),
            ("{apiKey}:{apiKey}", ["apiKey": "k"], "k:k"),
            (
                "Bearer {accessToken}", ["accessToken": "{webhookSecret}", "webhookSecret": "s"],
                "Bearer {webhookSecret}"
            ),
            ("{unknown} {apiKey}", ["apiKey": "k"], "{unknown} k"),
            ("Key {apiKey", ["apiKey": "k"], "Key {apiKey"),
            ("x-{a}-{b}", ["a": "\"quoted\"\n", "b": "é"], "x-\"quoted\"\n-é"),
            ("", [:], ""),
        ])
    func fill(_ template: String, _ fields: [String: String], _ expected: String) {
        var writer = JSONWriter()
        HeaderTemplate.write(template, fields: fields, to: &writer)
        #expect((try? JSONValue.parse(writer.bytes))?.stringValue == expected)
    }
}
