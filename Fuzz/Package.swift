// swift-tools-version: 6.1
import Foundation
import PackageDescription

// libFuzzer harnesses for the readers of untrusted input. They live in their own package so the
// main build and CI never compile them with the fuzzer's instrumentation. Build and run them
// with tools/fuzz from the repository root (docs/limits.md, "Fuzzing").

// A path dependency is identified by its directory name, which depends on where the repository
// was cloned; derive it rather than hard-coding it.
let toolkit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .lastPathComponent.lowercased()

func harness(_ name: String, _ products: [String]) -> Target {
  .executableTarget(
    name: name, dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: toolkit) })
}

let package = Package(
  name: "SNNKitFuzz",
  dependencies: [.package(path: "..")],
  targets: [
    .target(name: "CFuzzer"),
    .target(name: "FuzzSupport", dependencies: ["CFuzzer"]),
    harness("fuzz-keras-config", ["ModelIO", "HDF5", "Graph"]),
    harness("fuzz-snn-file", ["ModelIO", "HDF5", "Spiking"]),
    harness("fuzz-run-record", ["Results", "Reports"]),
    harness("fuzz-idx", ["Datasets"]),
    harness("fuzz-onnx", ["ModelIO", "Graph", "Tensor"]),
  ]
)
