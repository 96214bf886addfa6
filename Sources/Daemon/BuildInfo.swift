import Kafka

/// What this binary is: its release, and the Swift and librdkafka it was built with and runs on
/// (`consentinel --version`, `consentinel_build_info`).
public enum BuildInfo {
    /// The release; deploy/ tags images with it (scripts/check-deploy.sh checks that they agree).
    public static let version = "0.1.0"

    public static var swift: String {
        #if compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #elseif compiler(>=6.1)
        "6.1"
        #else
        "6.0"
        #endif
    }

    public static var librdkafka: String { librdkafkaVersion }

    /// `--version`: `0.1.0 (Swift 6.3, librdkafka 2.3.0)`.
    public static var description: String { "\(version) (Swift \(swift), librdkafka \(librdkafka))" }
}
