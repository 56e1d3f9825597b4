// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Pagoda",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pagoda", targets: ["pagoda"]),
        .library(name: "PagodaRules", targets: ["PagodaRules"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The pure core: rule language, diagnostics, calendar, intake contract, engine. No I/O beyond
        // reading the rule files it is pointed at; `now` is always a parameter.
        .target(
            name: "PagodaRules",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "pagoda",
            dependencies: [
                "PagodaRules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "PagodaRulesTests", dependencies: ["PagodaRules"]),
    ]
)
