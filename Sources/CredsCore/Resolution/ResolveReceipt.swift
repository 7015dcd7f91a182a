import CredsProtocol

/// What `resolve` answers: the decision, the credential's exposed fields and the headers to send, written
/// straight into the answer frame. The credential's text lives only as long as the answer being built.
struct ResolveReceipt: JSONWritable {
    let decision: RoutingDecision
    /// Exposed credential fields, in catalog order.
    let credential: [(name: String, value: String)]
    let headers: [(name: String, value: String)]
    /// For OAuth tokens: when the token expires and the scopes it carries.
    let token: (expiresAt: Timestamp?, scopes: [String])?

    func write(to writer: inout JSONWriter) {
        writer.objectStart()
        writer.key("workspaceId")
        writer.string(decision.workspaceId.text)
        writer.key("provider")
        writer.string(decision.provider.id)
        decision.writeSummary(to: &writer)
        writer.key("credential")
        writer.objectStart()
        for field in credential {
            writer.key(field.name)
            writer.string(field.value)
        }
        writer.objectEnd()
        writer.key("headers")
        writer.objectStart()
        for header in headers {
            writer.key(header.name)
            writer.string(header.value)
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
