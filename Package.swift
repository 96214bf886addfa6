// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "consentinel",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "consentinel", targets: ["consentinel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
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
        .target(name: "Kafka", dependencies: ["CRdKafka"]),
        .target(name: "Events"),
        .target(name: "Rules", dependencies: ["Events", .product(name: "Yams", package: "Yams")]),
        .target(name: "Digests", dependencies: ["Events"]),
        .target(name: "Daemon", dependencies: ["Kafka", "Events", "Rules", "Digests", "CZlib"]),
        .executableTarget(
            name: "consentinel",
            dependencies: [
                "Kafka", "Events", "Rules", "Digests", "Daemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka"]),
        .testTarget(name: "EventsTests", dependencies: ["Events"]),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "Events", "Daemon"], exclude: ["Cases"]),
        .testTarget(name: "DigestsTests", dependencies: ["Digests", "Events"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "Rules", "Events", "Digests", "Kafka"]),
    ],
    swiftLanguageModes: [.v6]
)
