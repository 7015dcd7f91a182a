/// The version credsd reports in `health` and its startup line.
public enum CredsVersion {
    public static let current = "0.1.0"
}
