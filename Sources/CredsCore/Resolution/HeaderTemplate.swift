import CredsProtocol

/// A provider's header template (`Key {apiKey}`) filled from a credential's fields, written straight into the
/// answer being built.
///
/// Each `{field}` is replaced in one pass over the template: substituted text is never scanned again, so a
/// stored `apiKey` of `{webhookSecret}` stays that text instead of becoming the secret. An unknown `{name}` stays
/// as it is.
enum HeaderTemplate {
    static func write(_ template: String, fields: [String: String], to writer: inout JSONWriter) {
        writer.stringStart()
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            writer.stringPiece(rest[..<open])
            rest = rest[open...]
            guard let close = rest.firstIndex(of: "}") else { break }
            let name = rest[rest.index(after: open)..<close]
            if let value = fields[String(name)] {
                writer.stringPiece(Substring(value))
            } else {
                writer.stringPiece(rest[open...close])
            }
            rest = rest[rest.index(after: close)...]
        }
        writer.stringPiece(rest)
        writer.stringEnd()
    }
}
