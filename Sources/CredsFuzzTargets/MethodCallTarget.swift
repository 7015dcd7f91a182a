import CredsCore
import CredsProtocol
import CredsServer
import Glibc
import Synchronization

/// Input: the number of calls (1 to 3), what the stub OAuth provider answers meanwhile, then for each a method
/// selector and the choices its params are built from (``MethodCallGenerator``); later calls may use what earlier
/// ones answered (a new connection, a state).
///
/// Each call runs the socket's real method (`MethodRegistry`) on an event loop against the seeded store
/// (``MethodFixture``). It must not trap, must answer within the time limit, and must either succeed or fail
/// with an `RPCError` whose reason SPEC section 8 lists and that a method can give (not `internal_error`, not
/// a reason only the server's framing gives). No answer or error may hold a secret (a webhook secret, a
/// refresh token, a client secret, a grant), and a credential comes back only from `resolve`, only to its
/// own workspace compared byte for byte.
enum MethodCallTarget {
    /// SPEC section 8, as written there.
    static let specReasons: Set<String> = [
        "parse_error", "invalid_request", "method_not_found", "invalid_params", "frame_too_large", "internal_error",
        "overloaded", "forbidden", "not_found", "unknown_provider", "provider_not_connectable", "invalid_credential",
        "encryption_key_missing", "integrity_error", "no_credential", "builtin_unavailable", "connection_unavailable",
        "reauth_required", "insufficient_scope", "upstream_unavailable", "grant_required", "grant_invalid",
        "invalid_state", "signature_invalid", "timestamp_out_of_tolerance", "replayed", "store_unavailable",
        "rate_limited", "budget_exhausted",
    ]
    /// Reasons the server gives before a method runs, or that mean a bug: never a method's answer to params.
    static let notFromMethods: Set<String> = [
        "parse_error", "invalid_request", "method_not_found", "frame_too_large", "overloaded", "internal_error",
    ]

    private static let fixture = Mutex<Result<MethodFixture, FuzzFinding>?>(nil)

    static func run(_ input: [UInt8]) -> FuzzFinding? {
        fixture.withLock { state -> FuzzFinding? in
            if state == nil {
                do {
                    state = .success(try MethodFixture())
                    atexit { MethodFixture.removeFiles(of: getpid()) }
                } catch {
                    state = .failure(error as? FuzzFinding ?? FuzzFinding("fixture: \(error)"))
                }
            }
            switch state! {
            case .failure(let finding): return finding
            case .success(let fixture): return run(input, on: fixture)
            }
        }
    }

    private static func run(_ input: [UInt8], on fixture: MethodFixture) -> FuzzFinding? {
        do {
            try fixture.prepare()
        } catch {
            return error as? FuzzFinding ?? FuzzFinding("fixture: \(error)")
        }
        let methods = methodList(fixture)
        var generator = MethodCallGenerator(input, seeds: fixture.seeds)
        let calls = 1 + generator.input.choose(3)
        fixture.provider.reply = generator.providerReply()
        for _ in 0..<calls {
            let selector = Int(generator.input.byte())
            let method =
                methods.indices.contains(selector)
                ? methods[selector] : methods[selector % MethodCallGenerator.methods.count]
            let params = generator.params(for: method.params)
            let outcome = fixture.call(method.socket, method.name, params)
            if trace { print(describe(method.socket, method.name, params, outcome)) }
            if let finding = check(outcome, method: method.name, params: params, seeds: fixture.seeds) {
                return finding
            }
            if case .answered(let answer) = outcome { generator.learn(from: answer) }
        }
        return nil
    }

    /// `CREDSD_FUZZ_TRACE=1` prints each call and its outcome (replaying a finding with `credsd-fuzz methods FILE`).
    private static let trace = getenv("CREDSD_FUZZ_TRACE").map { String(cString: $0) == "1" } ?? false

    private static func describe(
        _ socket: SocketKind, _ method: String, _ params: [String: JSONValue], _ outcome: MethodFixture.Outcome
    ) -> String {
        let shown = String(decoding: JSONValue.object(params).serialized().prefix(600), as: UTF8.self)
        let result: String
        switch outcome {
        case .answered(let answer): result = "ok " + String(decoding: answer.serialized().prefix(300), as: UTF8.self)
        case .failed(let error as RPCError): result = "\(error.reason.rawValue): \(error.message.prefix(200))"
        case .failed(let error): result = "error \(error)"
        case .noHandler: result = "no such method"
        case .timedOut: result = "no answer"
        }
        return "\(socket.rawValue) \(method) \(shown)\n  -> \(result)"
    }

    /// The fixed list, then methods the tables have that it lacks (with every param name as candidates).
    static func methodList(_ fixture: MethodFixture) -> [(socket: SocketKind, name: String, params: [String])] {
        var methods = MethodCallGenerator.methods
        for socket in [SocketKind.resolve, .admin] {
            for name in fixture.table(socket).names
            where !MethodCallGenerator.skipped.contains(name)
                && !methods.contains(where: { $0.socket == socket && $0.name == name })
            {
                methods.append((socket, name, MethodCallGenerator.allParamNames))
            }
        }
        return methods
    }

    /// The properties one call's outcome must have.
    static func check(_ outcome: MethodFixture.Outcome, method: String, params: [String: JSONValue], seeds: MethodSeeds)
        -> FuzzFinding?
    {
        let text: [UInt8]
        switch outcome {
        case .noHandler:
            return nil
        case .timedOut:
            return FuzzFinding("\(method) did not answer within \(Int(MethodFixture.answerTimeout)) s")
        case .failed(let error):
            guard let error = error as? RPCError else {
                return FuzzFinding("\(method) failed with \(type(of: error)), not an RPCError")
            }
            guard specReasons.contains(error.reason.rawValue) else {
                return FuzzFinding(
                    "\(method) failed with \(error.reason.rawValue), a reason SPEC section 8 does not list")
            }
            guard !notFromMethods.contains(error.reason.rawValue) else {
                return FuzzFinding("\(method) failed with \(error.reason.rawValue): \(error.message)")
            }
            text = error.json.serialized()
            for (_, secret) in seeds.credentials where contains(text, secret) {
                return FuzzFinding("an error of \(method) holds a credential")
            }
        case .answered(let answer):
            text = answer.serialized()
            let asked = params["workspaceId"]?.stringValue ?? ""
            for (workspace, secret) in seeds.credentials where contains(text, secret) {
                guard method == "resolve" else { return FuzzFinding("\(method) answered a credential") }
                guard workspace.isEmpty || asked.utf8.elementsEqual(workspace.utf8) else {
                    return FuzzFinding("resolve for another workspace answered a credential of \(workspace)")
                }
            }
        }
        for secret in seeds.neverAnswered where contains(text, secret) {
            return FuzzFinding("the answer of \(method) holds a secret that never leaves credsd")
        }
        return nil
    }

    /// Whether `text` holds the bytes of `secret`.
    private static func contains(_ text: [UInt8], _ secret: String) -> Bool {
        guard !secret.isEmpty else { return false }
        let needle = Array(secret.utf8)
        guard text.count >= needle.count else { return false }
        return text.withUnsafeBufferPointer { haystack in
            for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
                if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
            }
            return false
        }
    }
}
