// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "consentinel",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "consentinel", targets: ["consentinel"]),
        // libFuzzer targets, built by scripts/fuzz.sh (docs/operations.md, "Fuzzing").
        .executable(name: "DecoderFuzz", targets: ["DecoderFuzz"]),
        .executable(name: "ExpressionFuzz", targets: ["ExpressionFuzz"]),
        .executable(name: "PipelineFuzz", targets: ["PipelineFuzz"]),
        .executable(name: "PortalLinkFuzz", targets: ["PortalLinkFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        .target(name: "Kafka", dependencies: ["CRdKafka"]),
        .target(name: "Events", swiftSettings: hotPath),
        .target(name: "Rules", dependencies: ["Events", .product(name: "Yams", package: "Yams")], swiftSettings: hotPath),
        // The UI texts of every language are compiled into the binary, which the container image holds alone.
        .target(name: "Digests", dependencies: ["Events"], resources: [.embedInCode("Catalogs")], swiftSettings: hotPath),
        .target(name: "Processing", dependencies: ["Events", "Rules", "Digests"], swiftSettings: hotPath),
        .target(
            name: "Storage",
            dependencies: [
                "Events",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Alerts",
            dependencies: [
                "Events", "Rules", "Storage", "Kafka",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Replay",
            dependencies: [
                "Processing", "Kafka", "Events", "Rules", "Digests", "Alerts", "CZlib",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: hotPath
        ),
        .target(
            name: "Portal",
            dependencies: [
                "Events", "Rules", "Digests", "Processing", "Storage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "Daemon",
            dependencies: [
                "Kafka", "Events", "Rules", "Digests", "Processing", "Storage", "Alerts", "Portal", "CMalloc",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "Simulation",
            dependencies: [
                "Events", "Rules", "Digests", "Processing", "Kafka", "Daemon",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "consentinel",
            dependencies: [
                "Kafka", "Events", "Rules", "Digests", "Processing", "Replay", "Alerts", "Portal", "Daemon", "Simulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "FuzzTargets",
            dependencies: ["Events", "Rules", "Portal", .product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Fuzz/FuzzTargets"
        ),
        .executableTarget(name: "DecoderFuzz", dependencies: ["FuzzTargets"], path: "Sources/Fuzz/DecoderFuzz"),
        .executableTarget(name: "ExpressionFuzz", dependencies: ["FuzzTargets"], path: "Sources/Fuzz/ExpressionFuzz"),
        .executableTarget(name: "PipelineFuzz", dependencies: ["FuzzTargets"], path: "Sources/Fuzz/PipelineFuzz"),
        .executableTarget(name: "PortalLinkFuzz", dependencies: ["FuzzTargets"], path: "Sources/Fuzz/PortalLinkFuzz"),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka"]),
        .testTarget(name: "EventsTests", dependencies: ["Events"]),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "Events", "Replay"], exclude: ["Cases"]),
        .testTarget(
            name: "ReplayTests",
            dependencies: [
                "Replay", "Processing", "Rules", "Events", "Digests", "Kafka", "Simulation",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Reference"]
        ),
        .testTarget(name: "PortalTests", dependencies: ["Portal", "Events"]),
        .testTarget(name: "ProcessingTests", dependencies: ["Processing", "Rules", "Events", "Digests"], exclude: ["Golden"]),
        .testTarget(name: "DigestsTests", dependencies: ["Digests", "Events", "Rules", "Processing", "Replay", "CZlib"], exclude: ["Cases"]),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AlertsTests",
            dependencies: [
                "Alerts", "Events", "Rules", "Storage", "Daemon", "Replay", "Kafka",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "Daemon", "Rules", "Events", "Digests", "Processing", "Replay", "Portal", "Simulation", "Alerts", "Kafka",
                "Storage", "CZlib",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets"]),
    ],
    swiftLanguageModes: [.v6]
)

/// The targets every event goes through. Their release builds skip the run-time exclusivity checks (about 5% of a
/// replay's time); debug builds, which the tests run, keep them.
var hotPath: [SwiftSetting] { [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))] }
