/// The code paths `make fuzz` drives with libFuzzer, and `make test` replays the committed corpus through.
///
/// Each target takes one input and either returns nothing or a ``FuzzFinding`` naming the property that broke;
/// a trap inside the code under test is a finding too (libFuzzer reports it, the test run stops on it).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `FrameDecoder` fed the same stream in pieces must produce what a one-pass reading of it produces.
    case frameDecoder = "frame-decoder"
    /// The JSON parser and `RPCRequest.parse`: what parses must serialize and parse back to the same value.
    case rpcRequest = "rpc-request"
    /// `CredentialValidator` on any payload for any provider: refusals must not quote a submitted value.
    case credentialPayload = "credential-payload"
    /// Every method of both sockets, called in process with generated params against a seeded temporary store:
    /// no trap, no hang, only SPEC section 8 reasons, no secret where it does not belong.
    case methods = "methods"
    /// What OAuth providers answer (token endpoint replies, GitHub installation pages): no trap, read as sent.
    case tokenReplies = "token-replies"

    /// Runs one input.
    public func run(_ input: [UInt8]) -> FuzzFinding? {
        switch self {
        case .frameDecoder: FrameDecoderTarget.run(input)
        case .rpcRequest: RPCRequestTarget.run(input)
        case .credentialPayload: CredentialPayloadTarget.run(input)
        case .methods: MethodCallTarget.run(input)
        case .tokenReplies: TokenReplyTarget.run(input)
        }
    }
}
