// swift-tools-version:5.4
// 5.4, not 6.x, on purpose: from tools version 5.5 on, SwiftPM renames an executable's entry
// point (`<module>_main`, for testable executables) and links `main` to it, which leaves
// libFuzzer's own `main` unused and the binary exiting at once. Built only by Scripts/fuzz.sh:
//   swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing
import PackageDescription

/// One libFuzzer executable per target of `AgoraFuzzTargets` (Tests/Fuzz/Targets in the main
/// package), each only the `LLVMFuzzerTestOneInput` callback.
let package = Package(
    name: "agora-fuzz",
    dependencies: [.package(name: "agora", path: "..")],
    targets: [
        .executableTarget(name: "fuzz-xmpp-stream", dependencies: [.product(name: "AgoraFuzzTargets", package: "agora")]),
        .executableTarget(name: "fuzz-xmpp-c2s", dependencies: [.product(name: "AgoraFuzzTargets", package: "agora")]),
        .executableTarget(name: "fuzz-senml", dependencies: [.product(name: "AgoraFuzzTargets", package: "agora")]),
        .executableTarget(name: "fuzz-pairing", dependencies: [.product(name: "AgoraFuzzTargets", package: "agora")]),
        .executableTarget(name: "fuzz-csr", dependencies: [.product(name: "AgoraFuzzTargets", package: "agora")]),
        .executableTarget(name: "fuzz-receipt", dependencies: [.product(name: "AgoraFuzzTargets", package: "agora")]),
        .executableTarget(name: "fuzz-http-request", dependencies: [.product(name: "AgoraFuzzTargets", package: "agora")]),
        .executableTarget(name: "fuzz-add-checkpoint", dependencies: [.product(name: "AgoraFuzzTargets", package: "agora")]),
    ]
)
