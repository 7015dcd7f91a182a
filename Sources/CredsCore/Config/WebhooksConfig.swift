/// `[webhooks]` (SPEC 11): where events are POSTed, signed as Standard Webhooks with the secret in `secretFile`
/// (`whsec_` followed by base64, as Standard Webhooks secrets are written). Off without `url`.
public struct WebhooksConfig: Sendable, Equatable {
    public var url: String?
    public var secretFile: String?

    public init() {}
}
