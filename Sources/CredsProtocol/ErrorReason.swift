/// The stable `data.reason` of every error credsd answers, with its JSON-RPC code. The one list of reasons.
public enum ErrorReason: String, Sendable, CaseIterable, Codable {
    case parseError = "parse_error"
    case invalidRequest = "invalid_request"
    case methodNotFound = "method_not_found"
    case invalidParams = "invalid_params"
    case internalError = "internal_error"
    case frameTooLarge = "frame_too_large"
    case overloaded = "overloaded"
    case forbidden = "forbidden"
    case notFound = "not_found"
    case unknownProvider = "unknown_provider"
    case providerNotConnectable = "provider_not_connectable"
    case invalidCredential = "invalid_credential"
    case encryptionKeyMissing = "encryption_key_missing"
    case integrityError = "integrity_error"
    case noCredential = "no_credential"
    case builtinUnavailable = "builtin_unavailable"
    case connectionUnavailable = "connection_unavailable"
    case reauthRequired = "reauth_required"
    case insufficientScope = "insufficient_scope"
    case upstreamUnavailable = "upstream_unavailable"
    case grantRequired = "grant_required"
    case grantInvalid = "grant_invalid"
    case invalidState = "invalid_state"
    case signatureInvalid = "signature_invalid"
    case timestampOutOfTolerance = "timestamp_out_of_tolerance"
    case replayed = "replayed"
    case storeUnavailable = "store_unavailable"
    case rateLimited = "rate_limited"
    case budgetExhausted = "budget_exhausted"

    /// Whether a request answered with this reason was refused before its params were validated (SPEC
    /// section 7): it is audited without any field it sent, and such entries are paced per peer uid.
    public var refusesBeforeValidation: Bool {
        switch self {
        case .parseError, .invalidRequest, .invalidParams, .grantRequired, .grantInvalid, .frameTooLarge: true
        default: false
        }
    }

    /// The JSON-RPC error code: the standard ones for protocol errors, -32001 and below for the rest
    /// (documented in `proto/errors.md`).
    public var code: Int64 {
        switch self {
        case .parseError: return -32700
        case .invalidRequest: return -32600
        case .methodNotFound: return -32601
        case .invalidParams: return -32602
        case .internalError: return -32603
        case .frameTooLarge: return -32001
        case .overloaded: return -32002
        case .forbidden: return -32003
        case .notFound: return -32004
        case .unknownProvider: return -32010
        case .providerNotConnectable: return -32011
        case .invalidCredential: return -32012
        case .encryptionKeyMissing: return -32020
        case .integrityError: return -32021
        case .noCredential: return -32030
        case .builtinUnavailable: return -32031
        case .connectionUnavailable: return -32032
        case .reauthRequired: return -32033
        case .insufficientScope: return -32034
        case .upstreamUnavailable: return -32035
        case .grantRequired: return -32040
        case .grantInvalid: return -32041
        case .invalidState: return -32050
        case .signatureInvalid: return -32060
        case .timestampOutOfTolerance: return -32061
        case .replayed: return -32062
        case .storeUnavailable: return -32070
        case .rateLimited: return -32080
        case .budgetExhausted: return -32081
        }
    }
}
