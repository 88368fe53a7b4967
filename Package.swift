// swift-tools-version: 6.1
import PackageDescription

/// Swift 6 strictness everywhere: complete concurrency checking is the default in the
/// Swift 6 language mode; existential `any` is required so protocol costs stay visible.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "agora",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "agora", targets: ["agora"]),
        .library(name: "AgoraApp", targets: ["AgoraApp"]),
        // The fuzz entry points, for the libFuzzer executables of the Fuzz/ package.
        .library(name: "AgoraFuzzTargets", targets: ["AgoraFuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C at the edge: liblmdb from Debian (liblmdb-dev), one modulemap + one shim header.
        .systemLibrary(
            name: "CLMDB",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // libmosquitto from Debian (libmosquitto-dev).
        .systemLibrary(
            name: "CMosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // libexpat from Debian (libexpat1-dev): the XML push parser of every XMPP stream.
        .systemLibrary(
            name: "CExpat",
            providers: [.apt(["libexpat1-dev"])]
        ),
        // The C library's DNS resolver (res_query, in libc since glibc 2.34 and in musl):
        // SRV records for federation, read from the same /etc/resolv.conf as everything else.
        .systemLibrary(name: "CResolv"),
        // The slot a release build stamps its git description into (see AgoraVersion).
        .target(name: "CAgoraBuildInfo"),
        .target(
            name: "AgoraCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "AgoraStore",
            dependencies: [
                "CLMDB", "AgoraCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgoraLedger",
            dependencies: [
                "AgoraCore", "AgoraStore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgoraPKI",
            dependencies: [
                "AgoraCore", "AgoraStore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // M-Sec's trust and reputation model, the formulas alone (no store, no I/O).
        .target(name: "AgoraTrust", swiftSettings: strict),
        .target(
            name: "AgoraMarket",
            dependencies: ["AgoraCore", "AgoraStore", "AgoraLedger", "AgoraTrust"],
            swiftSettings: strict
        ),
        // Readings at rest: their keys, the batches committed to the ledger, queries with
        // proofs, retention. Fed by AgoraMQTT, read by AgoraServices and the CLI.
        .target(
            name: "AgoraReadings",
            dependencies: [
                "AgoraCore", "AgoraStore", "AgoraLedger", "AgoraMarket",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgoraMQTT",
            dependencies: [
                "CMosquitto", "AgoraCore", "AgoraStore", "AgoraLedger", "AgoraMarket", "AgoraReadings",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgoraXMPP",
            dependencies: [
                "CExpat", "CResolv", "AgoraCore", "AgoraStore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The HTTP/1.1 listener (metrics, health, dashboard): SwiftNIO's codec, limits, TLS.
        .target(
            name: "AgoraHTTP",
            dependencies: [
                "AgoraCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // One file per application IQ namespace, registered on AgoraXMPP's router (DESIGN.md).
        .target(
            name: "AgoraServices",
            dependencies: [
                "AgoraCore", "AgoraStore", "AgoraLedger", "AgoraMarket", "AgoraTrust", "AgoraPKI", "AgoraReadings", "AgoraXMPP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            exclude: ["PROTOCOL.md"],
            swiftSettings: strict
        ),
        // `agora client`: an XMPP client (STARTTLS, SCRAM or EXTERNAL) and the consumer's
        // operations, verifying every proof before it shows anything. Opens no store.
        .target(
            name: "AgoraClient",
            dependencies: [
                "AgoraCore", "AgoraXMPP", "AgoraLedger",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgoraApp",
            dependencies: [
                "AgoraCore", "AgoraStore", "AgoraLedger", "AgoraMarket", "AgoraTrust", "AgoraPKI", "AgoraMQTT", "AgoraReadings", "AgoraXMPP", "AgoraServices", "AgoraHTTP", "CAgoraBuildInfo",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "agora",
            dependencies: [
                "AgoraApp", "AgoraClient", "AgoraCore", "AgoraLedger", "AgoraMarket", "AgoraPKI", "AgoraMQTT", "AgoraReadings",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // Benchmarks for issue 2 (b)–(e); run with Benchmarks/run.sh, never in the tests.
        .executableTarget(
            name: "agora-bench",
            dependencies: [
                "AgoraCore", "AgoraStore", "AgoraLedger", "AgoraMarket", "AgoraPKI",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/AgoraBench"
        ),
        // Issue 20's witness load generator; run with Benchmarks/witness/run.sh, never in the tests.
        .executableTarget(
            name: "agora-witness-load",
            dependencies: ["AgoraLedger", "AgoraHTTP", .product(name: "Crypto", package: "swift-crypto")],
            path: "Benchmarks/WitnessLoad"
        ),
        // Issue 23's trust-model measurements; run with Benchmarks/trust/run.sh, never in the tests.
        .executableTarget(
            name: "agora-trust-bench",
            dependencies: ["AgoraCore", "AgoraStore", "AgoraLedger", "AgoraMarket", "AgoraTrust", "AgoraReadings",
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/TrustBench"
        ),
        // Issue 21's live-readings subscribers; run with Benchmarks/live/run.sh, never in the tests.
        .executableTarget(
            name: "agora-live-bench",
            dependencies: ["AgoraApp", "AgoraClient", "AgoraCore", "AgoraMarket", "AgoraXMPP", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/LiveBench"
        ),
        // Helpers shared by the test targets (temporary stores, running processes).
        .target(
            name: "AgoraTestSupport",
            dependencies: ["AgoraStore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        // Fuzz entry points (issue 8): plain functions of bytes, run by the libFuzzer executables
        // in Fuzz/ (Scripts/fuzz.sh) and replayed over Tests/Fuzz/Corpus and Tests/Fuzz/Regressions
        // by FuzzRegressionTests. Its @testable imports need testability: debug builds, or
        // -enable-testing (a plain `swift build -c release` of every target would fail here).
        .target(
            name: "AgoraFuzzTargets",
            dependencies: [
                "AgoraCore", "AgoraStore", "AgoraLedger", "AgoraPKI", "AgoraMarket", "AgoraReadings", "AgoraMQTT",
                "AgoraXMPP", "AgoraServices", "AgoraApp", "AgoraHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Fuzz/Targets"
        ),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["AgoraFuzzTargets", "AgoraXMPP"]),
        .testTarget(name: "AgoraCoreTests", dependencies: ["AgoraCore"]),
        .testTarget(name: "AgoraTrustTests", dependencies: ["AgoraTrust", "AgoraTestSupport"]),
        .testTarget(name: "AgoraHTTPTests", dependencies: [
            "AgoraHTTP", "AgoraTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "AgoraStoreTests", dependencies: ["AgoraStore", "AgoraCore", "AgoraTestSupport"]),
        .testTarget(
            name: "AgoraLedgerTests",
            dependencies: ["AgoraLedger", "AgoraStore", "AgoraCore", "AgoraTestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "AgoraPKITests",
            dependencies: [
                "AgoraPKI", "AgoraCore", "AgoraTestSupport",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "AgoraReadingsTests", dependencies: ["AgoraReadings", "AgoraMarket", "AgoraLedger", "AgoraStore", "AgoraCore", "AgoraTestSupport",
                                                             .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "AgoraMQTTTests", dependencies: ["AgoraMQTT", "AgoraReadings", "AgoraMarket", "AgoraLedger", "AgoraStore", "AgoraCore", "AgoraTestSupport",
                                                         .product(name: "Crypto", package: "swift-crypto"),
                                                         .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                         .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle")]),
        .testTarget(
            name: "AgoraXMPPTests",
            dependencies: ["AgoraXMPP", "AgoraCore", "AgoraStore", "AgoraTestSupport",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Every IQ namespace and the routers, through the real server on in-memory channels.
        .testTarget(
            name: "AgoraServicesTests",
            dependencies: ["AgoraApp", "AgoraClient", "AgoraHTTP", "AgoraServices", "AgoraXMPP", "AgoraMarket", "AgoraReadings", "AgoraCore", "AgoraLedger", "AgoraTestSupport",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "AgoraMarketTests", dependencies: ["AgoraMarket", "AgoraLedger", "AgoraStore", "AgoraCore", "AgoraTestSupport"]),
        .testTarget(
            name: "AgoraAppTests",
            dependencies: ["AgoraApp", "AgoraStore", "AgoraPKI", "AgoraCore", "AgoraLedger", "AgoraTestSupport", "agora",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "InteropTests",
            dependencies: ["AgoraTestSupport", "agora"],
            path: "Tests/Interop",
            exclude: ["verify_receipt.py", "xmpp", "systemd", "stores"]
        ),
    ]
)
