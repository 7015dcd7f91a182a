import CredsProtocol

/// What `resolve` answers: the decision, the credential's exposed fields and the headers to send, written
/// straight into the answer frame (headers are filled in as they are written). The credential's text lives only
/// as long as the answer being built.
struct ResolveReceipt: JSONWritable {
    let decision: RoutingDecision
    /// The credential's fields by name: the exposed ones are answered; header templates draw on all of them.
    let fields: [String: String]
    /// An OAuth access token, answered as the credential instead of stored fields.
    let token: AccessToken?

    func write(to writer: inout JSONWriter) {
        let provider = decision.provider
        writer.objectStart()
        writer.key("workspaceId")
        writer.string(decision.workspaceId.text)
        writer.key("provider")
        writer.string(provider.id)
        decision.writeSummary(to: &writer)
        writer.key("credential")
        writer.objectStart()
        if let token {
            writer.key("accessToken")
            writer.string(token.tokenText)
            writer.key("tokenType")
            writer.string(token.tokenType)
        } else {
            for field in provider.fields where field.exposed {
                guard let value = fields[field.name] else { continue }
                writer.key(field.name)
                writer.string(value)
            }
        }
        writer.objectEnd()
        writer.key("headers")
        writer.objectStart()
        for header in provider.headers {
            writer.key(header.name)
            HeaderTemplate.write(header.template, fields: fields, to: &writer)
        }
        writer.objectEnd()
        if let token {
            writer.key("expiresAt")
            writer.string(token.expiresAt?.rfc3339)
            writer.key("scopes")
            writer.arrayStart()
            for scope in token.scopes { writer.string(scope) }
            writer.arrayEnd()
        }
        writer.objectEnd()
    }
}
