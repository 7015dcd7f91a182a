import CredsCore
import Logging

extension Logger {
    /// One warning per secret file its group may read (SPEC section 7), at startup and at each reload.
    func warnAbout(_ warnings: [SecretFileWarning]) {
        for warning in warnings {
            self.warning(
                "secret file is accessible to its group",
                metadata: [
                    "config.key": "\(warning.key)", "file.path": "\(warning.path)", "file.mode": "\(warning.modeText)",
                ]
            )
        }
    }
}
