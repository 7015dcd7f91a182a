import CredsProtocol

/// A provider's header template (`Key {apiKey}`) filled from a credential's fields: written straight into the
/// answer being built (`resolve`), or as a string (`connections.test`'s probe).
///
/// Each `{field}` is replaced in one pass over the template: substituted text is never scanned again, so a
/// stored `apiKey` of `{webhookSecret}` stays that text instead of becoming the secret. An unknown `{name}` stays
/// as it is.
enum HeaderTemplate {
    static func write(_ template: String, fields: [String: String], to writer: inout JSONWriter) {
        writer.stringStart()
        fill(template, fields: fields) { writer.stringPiece($0) }
        writer.stringEnd()
    }

    /// The filled header value.
    static func filled(_ template: String, fields: [String: String]) -> String {
        var value = ""
        fill(template, fields: fields) { value += $0 }
        return value
    }

    /// Passes the template's text and the fields' values to `emit`, in order.
    private static func fill(_ template: String, fields: [String: String], emit: (Substring) -> Void) {
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            emit(rest[..<open])
            rest = rest[open...]
            guard let close = rest.firstIndex(of: "}") else { break }
            let name = rest[rest.index(after: open)..<close]
            if let value = fields[String(name)] {
                emit(Substring(value))
            } else {
                emit(rest[open...close])
            }
            rest = rest[rest.index(after: close)...]
        }
        emit(rest)
    }
}
