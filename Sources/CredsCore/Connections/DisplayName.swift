import CredsProtocol

/// A connection's `displayName` (SPEC section 4): free text, 1-200 characters, no control characters.
enum DisplayName {
    static func check(_ text: String) throws(RPCError) {
        guard (1...200).contains(text.count) else {
            throw RPCError.invalidParams("displayName must be 1 to 200 characters")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RPCError.invalidParams("displayName must not contain control characters")
        }
    }
}
