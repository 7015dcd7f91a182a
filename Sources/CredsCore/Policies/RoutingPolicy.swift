/// A workspace's stored routing policy for one provider (SPEC 12): its mode, and the reported failure classes of
/// the workspace's own key that send `auto` resolves to the platform key while that key cools down.
///
/// Stored as the mode's name, followed by a newline and the classes joined by commas when there are any: a policy
/// without `fallbackOn` is stored as before.
struct RoutingPolicy: Sendable, Equatable {
    var mode: RoutingMode
    var fallbackOn: [String]

    /// The classes `fallbackOn` takes (SPEC 11's outcomes other than `ok`).
    static let classes = ["unauthorized", "rate_limited", "quota_exceeded", "upstream_error"]

    init(mode: RoutingMode, fallbackOn: [String] = []) {
        self.mode = mode
        self.fallbackOn = fallbackOn
    }

    /// A stored policy; `auto` without fallback for bytes that do not read as one.
    init(stored bytes: [UInt8]?) {
        guard let bytes else {
            self.init(mode: .auto)
            return
        }
        // Read on every resolve: a policy without fallback (the usual one) is its mode alone.
        guard bytes.contains(10) else {
            self.init(mode: RoutingMode(rawValue: String(decoding: bytes, as: UTF8.self)) ?? .auto)
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let mode = RoutingMode(rawValue: String(parts.first ?? "")) ?? .auto
        let classes = parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : []
        self.init(mode: mode, fallbackOn: classes.filter { Self.classes.contains($0) })
    }

    var stored: [UInt8] {
        Array((fallbackOn.isEmpty ? mode.rawValue : mode.rawValue + "\n" + fallbackOn.joined(separator: ",")).utf8)
    }
}
