// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "SNNKit",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "snntrain", targets: ["snntrain"]),
    .executable(name: "snnconv", targets: ["snnconv"]),
    .executable(name: "snnsim", targets: ["snnsim"]),
    .library(name: "Pipeline", targets: ["Pipeline"]),
    .library(name: "AtomicFile", targets: ["AtomicFile"]),
    .library(name: "HDF5", targets: ["HDF5"]),
    .library(name: "Tensor", targets: ["Tensor"]),
    .library(name: "Datasets", targets: ["Datasets"]),
    .library(name: "Graph", targets: ["Graph"]),
    .library(name: "ModelIO", targets: ["ModelIO"]),
    .library(name: "Training", targets: ["Training"]),
    .library(name: "Spiking", targets: ["Spiking"]),
    .library(name: "Conversion", targets: ["Conversion"]),
    .library(name: "Results", targets: ["Results"]),
    .library(name: "Reports", targets: ["Reports"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CHDF5", pkgConfig: "hdf5",
      providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(
      name: "CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(name: "CMalloc"),
    .systemLibrary(
      name: "CMPI", pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev"])]),
    // The module graph and why each edge exists: docs/architecture.md.
    .target(name: "AtomicFile"),
    .target(name: "Distributed", dependencies: ["CMPI"]),
    .target(name: "HDF5", dependencies: ["CHDF5", "AtomicFile"]),
    .target(
      name: "Tensor",
      dependencies: ["CBLAS", "CMalloc", .product(name: "RealModule", package: "swift-numerics")]),
    .target(name: "Datasets", dependencies: ["CZlib", "Tensor", "AtomicFile", "HDF5"]),
    .target(
      name: "Graph", dependencies: ["Tensor", .product(name: "RealModule", package: "swift-numerics")]),
    .target(name: "Spiking", dependencies: ["Graph"]),
    .target(name: "Conversion", dependencies: ["Spiking", "Graph"]),
    .target(name: "Results", dependencies: ["Spiking", "Graph", "AtomicFile", "Datasets"]),
    // ONNX's messages, generated once from onnx.proto3 (tools/generate_onnx_proto).
    .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
    .target(
      name: "ModelIO",
      dependencies: [
        "HDF5", "Graph", "Spiking", "AtomicFile", "ONNXProto",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ]),
    .target(name: "Reports", dependencies: ["Results", "Spiking", "AtomicFile"]),
    .target(
      name: "Training",
      dependencies: ["Graph", "Datasets", "AtomicFile", .product(name: "RealModule", package: "swift-numerics")]),
    .target(
      name: "Pipeline", dependencies: ["ModelIO", "Conversion", "Spiking", "Results", "Datasets", "Graph", "Tensor"]),
    .target(
      name: "ToolSupport",
      dependencies: [
        "Pipeline", "Conversion", "Spiking", "Datasets", "AtomicFile", "HDF5", "Distributed",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "snntrain",
      dependencies: [
        "ToolSupport", "Distributed", "Pipeline", "Datasets", "Training", "ModelIO", "Graph", "Tensor", "AtomicFile",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "snnconv",
      dependencies: [
        "ToolSupport", "Distributed", "Pipeline", "ModelIO", "Graph", "Spiking", "Datasets",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "snnsim",
      dependencies: [
        "ToolSupport", "Distributed", "Pipeline", "Results", "Reports", "Conversion", "Spiking", "Tensor", "ModelIO",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .target(name: "TestSupport", dependencies: ["Tensor", "Datasets"], path: "Tests/TestSupport"),
    .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
    .testTarget(name: "GraphTests", dependencies: ["Graph", "TestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["HDF5", "ToolSupport", "TestSupport"]),
    .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"]),
    .testTarget(
      name: "SpikingTests",
      dependencies: ["Spiking", "Conversion", "ModelIO", "HDF5", "Datasets", "Training", "TestSupport"]),
    .testTarget(
      name: "ReportsTests",
      dependencies: [
        "Reports", "Results", "Pipeline", "ModelIO", "Conversion", "Spiking", "Datasets", "TestSupport",
      ], exclude: ["Fixtures"]),
    .testTarget(
      name: "ModelIOTests",
      dependencies: ["ModelIO", "Conversion", "Datasets", "Graph", "Training", "TestSupport"],
      exclude: ["Fixtures"]),
  ]
)
