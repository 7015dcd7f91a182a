// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "credsd",
    // Linux only (Glibc, SO_PEERCRED, systemd): SwiftPM has no way to say so, and no Apple platform is claimed.
    products: [
        .executable(name: "credsd", targets: ["credsd"]),
        .executable(name: "credsctl", targets: ["credsctl"]),
        .library(name: "CredsClient", targets: ["CredsClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.25.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(name: "CCredsSystem"),
        .target(
            name: "CredsCrypto",
            dependencies: ["CSodium"],
            swiftSettings: strict
        ),
        .target(
            name: "CredsStore",
            dependencies: ["CLMDB"],
            swiftSettings: strict
        ),
        .target(
            name: "CredsProtocol",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CredsCatalog",
            dependencies: ["CredsProtocol"],
            resources: [.copy("providers.json")],
            swiftSettings: strict
        ),
        .target(
            name: "CredsOAuth",
            dependencies: [
                "CredsCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CredsCore",
            dependencies: [
                "CredsCatalog",
                "CredsOAuth",
                "CredsCrypto",
                "CredsStore",
                "CredsProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CredsServer",
            dependencies: [
                "CCredsSystem",
                "CredsCluster",
                "CredsCore",
                "CredsProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // Cluster mode (SPEC 10): the PostgreSQL source of truth, its schema and connections.
        .target(
            name: "CredsCluster",
            dependencies: [
                "CredsCore",
                "CredsCrypto",
                "CredsProtocol",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The daemon inside a test process (`InProcessDaemon`), as `credsd serve` assembles it.
        .target(
            name: "CredsTesting",
            dependencies: [
                "CredsCore",
                "CredsProtocol",
                "CredsServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CredsClient",
            dependencies: ["CredsProtocol"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "credsd",
            dependencies: [
                "CCredsSystem",
                "CredsProtocol",
                "CredsStore",
                "CredsServer",
                "CredsCore",
                "CredsCluster",
                "CredsCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CredsFuzzTargets",
            dependencies: [
                "CredsCatalog",
                "CredsProtocol",
                "CredsCore",
                "CredsCrypto",
                "CredsOAuth",
                "CredsServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // `make bench`'s floor: a bare NIO server with credsd's framing and no work.
        .executableTarget(
            name: "credsd-nio-echo",
            dependencies: [
                "CredsProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "credsd-fuzz",
            dependencies: ["CredsFuzzTargets"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "credsctl",
            dependencies: [
                "CredsClient",
                "CredsProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CredsdTests",
            dependencies: [
                "CredsClient",
                "CredsProtocol",
                "CredsCatalog",
                "CredsFuzzTargets",
                "CredsCore",
                "CredsCrypto",
                "CredsStore",
                "CredsOAuth",
                "CredsTesting",
                "CredsCluster",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
    ]
)
