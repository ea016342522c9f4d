// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "SNNKit",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "snntrain", targets: ["snntrain"]),
    .executable(name: "snnconv", targets: ["snnconv"]),
    .executable(name: "snnsim", targets: ["snnsim"]),
    .library(name: "HDF5", targets: ["HDF5"]),
    .library(name: "Tensor", targets: ["Tensor"]),
    .library(name: "Datasets", targets: ["Datasets"]),
    .library(name: "Graph", targets: ["Graph"]),
    .library(name: "ModelIO", targets: ["ModelIO"]),
    .library(name: "Training", targets: ["Training"]),
    .library(name: "Spiking", targets: ["Spiking"]),
    .library(name: "Reports", targets: ["Reports"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
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
    .target(name: "HDF5", dependencies: ["CHDF5"]),
    .target(
      name: "Tensor",
      dependencies: ["CBLAS", "CMalloc", .product(name: "RealModule", package: "swift-numerics")]),
    .target(name: "Datasets", dependencies: ["CZlib", "Tensor"]),
    .target(name: "Graph", dependencies: ["Tensor"]),
    .target(name: "Spiking", dependencies: ["Graph"]),
    .target(name: "ModelIO", dependencies: ["HDF5", "Graph", "Spiking"]),
    .target(name: "Reports", dependencies: ["ModelIO", "Spiking"]),
    .target(
      name: "Training",
      dependencies: ["Graph", "Datasets", .product(name: "RealModule", package: "swift-numerics")]),
    .target(
      name: "ToolSupport",
      dependencies: [
        "Datasets", "Training", "Spiking", "Graph",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "snntrain",
      dependencies: [
        "ToolSupport", "Datasets", "Training", "ModelIO", "Graph",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "snnconv",
      dependencies: [
        "ToolSupport", "ModelIO", "Graph", "Datasets", "Spiking",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "snnsim",
      dependencies: [
        "ToolSupport", "ModelIO", "Spiking", "Datasets", "Reports", "Graph",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport"),
    .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
    .testTarget(name: "GraphTests", dependencies: ["Graph", "TestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["HDF5", "TestSupport"]),
    .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"]),
    .testTarget(
      name: "SpikingTests",
      dependencies: ["Spiking", "ModelIO", "HDF5", "Datasets", "Training", "TestSupport"]),
    .testTarget(
      name: "ReportsTests", dependencies: ["Reports", "ModelIO", "Spiking", "Datasets", "TestSupport"]),
    .testTarget(
      name: "ModelIOTests", dependencies: ["ModelIO", "Datasets", "TestSupport"], exclude: ["Fixtures"]),
  ]
)
