import Conversion
import Foundation
import Graph
import HDF5
import ModelIO
import Spiking
import Tensor
import TestSupport
import Testing

@Suite struct SNNFileTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("snn-file") }

  func converted(granularity: Granularity = .layer, fuse: Bool = false) throws -> SpikingNetwork {
    let graph = try KerasModelReader.read(
      KerasFixtureTests.fixtures.appendingPathComponent("keras3_seq_cnn.h5").path)
    let (inputs, _) = try KerasFixtureTests.expected("keras3_seq_cnn")
    return try SpikingNetwork(
      graph, dynamics: .signGD, schedule: .geometric(eta0: 0.2, gamma: 0.9), normalization: .percentile(99.9),
      granularity: granularity, calibration: inputs, fuse: fuse)
  }

  @Test(arguments: [(Granularity.layer, false), (.channel, false), (.neuron, true)])
  func roundTripsExactly(granularity: Granularity, fuse: Bool) throws {
    // As a tuned conversion leaves it: each population with its own schedule and start.
    let plain = try converted(granularity: granularity, fuse: fuse)
    let network = try plain.replacing(
      populations: plain.populations.enumerated().map { k, spec in
        spec.with(
          schedule: .geometric(eta0: 0.2 + 0.1 * Double(k), gamma: 0.8),
          initial: spec.scales.indices.map { 0.01 * Double($0 + k) })
      }, targetTimesteps: 12)
    let path = directory.appendingPathComponent("net.snn.h5").path
    let provenance = SNNFile.Provenance(
      sourceModel: "cnn.h5", sourceSHA256: String(repeating: "ab", count: 32), toolkitVersion: "test")
    try SNNFile.write(network, provenance: provenance, to: path)
    let (back, backProvenance) = try SNNFile.read(path)
    #expect(back.graph == network.graph)
    #expect(back.populations == network.populations)
    #expect(back.readout == network.readout)
    #expect(back.normalization == .percentile(99.9))
    #expect(back.calibrationImages == 4)
    #expect(back.granularity == granularity)
    #expect(back.targetTimesteps == 12)
    #expect(back.isFused == fuse)
    if granularity != .layer { #expect(back.populations.allSatisfy { $0.scales.count > 1 }) }
    #expect(backProvenance == provenance)
    // BatchNorm was folded away and the final softmax left to the readout.
    #expect(!back.graph.nodes.contains { if case .batchNorm = $0.op { true } else { false } })
    #expect(back.populations.map(\.node).contains("max_pooling2d"))
  }

  @Test(arguments: [(ResetMode.subtract, nil), (.zero, 20.0)] as [(ResetMode, Double?)])
  func membranePopulationsRoundTrip(reset: ResetMode, leak: Double?) throws {
    let graph = try KerasModelReader.read(
      KerasFixtureTests.fixtures.appendingPathComponent("keras3_seq_cnn.h5").path)
    let (inputs, _) = try KerasFixtureTests.expected("keras3_seq_cnn")
    let network = try SpikingNetwork(
      converting: graph,
      settings: ConversionSettings(
        dynamics: .integrateAndFire, calibrationImages: 4, reset: reset, leak: leak, initialMembrane: 0.5),
      calibration: inputs)
    #expect(network.populations.allSatisfy { $0.reset == reset && $0.leak == leak && $0.initial == [0.5] })
    let path = directory.appendingPathComponent("membrane.snn.h5").path
    try SNNFile.write(
      network, provenance: .init(sourceModel: "m", sourceSHA256: "0", toolkitVersion: "t"), to: path)
    #expect(try SNNFile.read(path).network.populations == network.populations)
    // A leak below one step is refused on reading, naming the population.
    let first = network.populations[0].node
    try HDF5File.open(path, mode: .readWrite).root.group("populations").group(first).writeAttribute(
      "leak", values: [0.5])
    let error = #expect(throws: (any Error).self) { try SNNFile.read(path) }
    #expect("\(error!)".contains(first) && "\(error!)".contains("τ = 0.5"), "\(error!)")
  }

  @Test(.enabled(if: pythonHas("h5py"), "needs python3 with h5py"))
  func readableWithH5pyAlone() throws {
    let path = directory.appendingPathComponent("py.snn.h5").path
    try SNNFile.write(
      try converted(), provenance: .init(sourceModel: "m.h5", sourceSHA256: "0", toolkitVersion: "t"),
      to: path)
    let script = """
      import h5py, json, sys
      f = h5py.File(sys.argv[1], "r")
      assert f.attrs["format"] == "snnkit.snn" and int(f.attrs["version"]) == \(SNNFile.version)
      nodes = json.loads(f["graph"].attrs["nodes"])
      order = list(f["populations"].attrs["order"])
      p = f["populations"][order[0]]
      print(len(nodes), len(order), p.attrs["dynamics"], json.loads(p.attrs["schedule"]), f["graph/parameters/conv2d/kernel"].shape)
      """
    let result = try runProcess("python3", ["-c", script, path])
    #expect(result.status == 0, "\(result.output)")
    #expect(
      result.output.contains("signgd {'geometric': {'eta0': 0.2, 'gamma': 0.9}} (3, 3, 2, 4)"),
      "\(result.output)")
  }

  @Test func newerVersionsAndOtherFilesAreRefused() throws {
    let path = directory.appendingPathComponent("future.snn.h5").path
    try SNNFile.write(
      try converted(), provenance: .init(sourceModel: "m", sourceSHA256: "0", toolkitVersion: "t"), to: path)
    try HDF5File.open(path, mode: .readWrite).root.writeAttribute("version", values: [Int64(7)])
    #expect(
      throws: ModelIOError.badConfig(
        file: path, detail: "written in format version 7; this toolkit reads up to version \(SNNFile.version)"
      )
    ) {
      try SNNFile.read(path)
    }
    let keras = KerasFixtureTests.fixtures.appendingPathComponent("keras3_seq_mlp.h5").path
    #expect(throws: ModelIOError.self) { try SNNFile.read(keras) }
  }

  @Test func aNonAffineNodeWithoutAPopulationIsRefused() throws {
    let path = directory.appendingPathComponent("missing.snn.h5").path
    let network = try converted()
    try SNNFile.write(
      network, provenance: .init(sourceModel: "m", sourceSHA256: "0", toolkitVersion: "t"), to: path)
    // Drop the first population from the order, as a hand-edited or damaged file might.
    let order = network.populations.map(\.node)
    try HDF5File.open(path, mode: .readWrite).root.group("populations").writeAttribute(
      "order", strings: Array(order.dropFirst()))
    let error = #expect(throws: ModelIOError.self) { try SNNFile.read(path) }
    #expect(
      "\(error!)".contains("'\(order[0])'") && "\(error!)".contains("has no population"), "\(error!)")
  }

  @Test func sha256MatchesTheStandardVectors() {
    #expect(
      SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
  }
}
