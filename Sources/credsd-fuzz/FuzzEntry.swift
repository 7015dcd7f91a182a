import CredsFuzzTargets
#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

#if FUZZING
    // Built by `make fuzz` with `-sanitize=fuzzer -DFUZZING`. SwiftPM points an executable's `main` at
    // `credsd_fuzz_main`, which hands the command line to libFuzzer's driver.

    @_silgen_name("LLVMFuzzerRunDriver")
    private func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    @_cdecl("credsd_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var argc = argc
        var argv = argv
        return runFuzzerDriver(&argc, &argv, fuzzOneInput)
    }

    /// The target named by CREDSD_FUZZ_TARGET.
    private let selectedTarget: FuzzTarget = {
        guard let name = getenv("CREDSD_FUZZ_TARGET").map({ String(cString: $0) }),
            let target = FuzzTarget(rawValue: name)
        else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            fatalError("set CREDSD_FUZZ_TARGET to one of: \(names)")
        }
        return target
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        if let finding = selectedTarget.run(input) {
            fatalError("\(selectedTarget.rawValue): \(finding)")
        }
        return 0
    }
#else
    /// Without the fuzzer: `credsd-fuzz TARGET FILE...` runs saved inputs (a crash libFuzzer wrote, say) once each.
    @main
    struct ReplayFuzzInputs {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
                let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
                print("usage: credsd-fuzz \(names) FILE...")
                exit(64)
            }
            var findings = 0
            for path in arguments.dropFirst() {
                guard let input = readFile(path) else {
                    print("\(path): cannot read")
                    exit(66)
                }
                if let finding = target.run(input) {
                    findings += 1
                    print("\(path): \(finding)")
                }
            }
            print("\(arguments.count - 1) inputs, \(findings) findings")
            exit(findings == 0 ? 0 : 1)
        }

        static func readFile(_ path: String) -> [UInt8]? {
            guard let file = fopen(path, "rb") else { return nil }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                bytes += chunk[0..<count]
                if count < chunk.count { return ferror(file) == 0 ? bytes : nil }
            }
        }
    }
#endif
