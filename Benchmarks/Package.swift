// swift-tools-version: 6.1
import Foundation
import PackageDescription

// Benchmarks live in their own package so the main build and CI never compile them.
// Run with tools/bench from the repository root.

// A path dependency is identified by its directory name, which depends on where the repository
// was cloned; derive it rather than hard-coding it.
let toolkit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .lastPathComponent.lowercased()

let package = Package(
  name: "SNNKitBenchmarks",
  dependencies: [.package(path: "..")],
  targets: [
    .systemLibrary(name: "CBLASRaw", pkgConfig: "openblas"),
    .target(name: "BenchSupport"),
    .executableTarget(
      name: "tensor-bench",
      dependencies: ["BenchSupport", "CBLASRaw", .product(name: "Tensor", package: toolkit)]),
    .executableTarget(
      name: "train-bench",
      dependencies: [
        .product(name: "Training", package: toolkit), .product(name: "Datasets", package: toolkit),
        .product(name: "Tensor", package: toolkit),
      ]),
    .executableTarget(
      name: "sparse-bench",
      dependencies: ["BenchSupport", .product(name: "Tensor", package: toolkit)]),
    .executableTarget(
      name: "sim-bench",
      dependencies: [
        "CBLASRaw", .product(name: "Spiking", package: toolkit), .product(name: "Conversion", package: toolkit),
        .product(name: "ModelIO", package: toolkit),
        .product(name: "Datasets", package: toolkit), .product(name: "Tensor", package: toolkit),
        .product(name: "Graph", package: toolkit),
      ]),
  ]
)
