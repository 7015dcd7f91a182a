import CredsServer
import ServiceLifecycle
import UnixSignals

/// On SIGHUP, reads the configuration again (file and flags) and hands it to the reloader, which applies what can
/// change without a restart and logs the rest.
struct ReloadService: Service {
    let options: ConfigOptions
    let reloader: ConfigReloader

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            reloader.reload(options.load())
        }
    }
}
