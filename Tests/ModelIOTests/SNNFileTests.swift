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
    // As a tuned conversion leaves it: each population with its own schedule and start, and
    // the one-input populations with their input shifted per channel.
    let plain = try converted(granularity: granularity, fuse: fuse)
    let network = try plain.replacing(
      populations: plain.populations.enumerated().map { k, spec in
        let channels = plain.graph.node(spec.node)!.shape.last!
        return spec.with(
          schedule: .geometric(eta0: 0.2 + 0.1 * Double(k), gamma: 0.8),
          initial: spec.scales.indices.map { 0.01 * Double($0 + k) },
          offsets: spec.target.arity == 1 ? (0..<channels).map { 0.001 * Double($0) - 0.0123 } : nil)
      }, targetTimesteps: 12)
    #expect(network.populations.contains { !$0.offsets.isEmpty })
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
        dynamics: .integrateAndFire, calibrationImages: 4,
        neuron: MembraneIntegrateAndFire.Membrane(reset: reset, leak: leak).parameters, initialMembrane: 0.5),
      calibration: inputs)
    #expect(
      network.populations.allSatisfy {
        MembraneIntegrateAndFire.Membrane($0.parameters) == .init(reset: reset, leak: leak)
          && $0.initial == [0.5]
      })
    let path = directory.appendingPathComponent("membrane.snn.h5").path
    try SNNFile.write(
      network, provenance: .init(sourceModel: "m", sourceSHA256: "0", toolkitVersion: "t"), to: path)
    #expect(try SNNFile.read(path).network.populations == network.populations)
    // A leak below one step is refused on reading, naming the population.
    let first = network.populations[0].node
    try HDF5File.open(path, mode: .readWrite).root.group("populations").group(first).writeAttribute(
      "leak", values: [0.5])
    let error = #expect(throws: (any Error).self) { try SNNFile.read(path) }
    #expect("\(error!)".contains(first) && "\(error!)".contains("leak '0.5'"), "\(error!)")
  }

  /// Every op the Keras fixtures make (GELU, SiLU, LayerNorm, residual adds, softmax, padding,
  /// cropping, grouped and dilated convolutions, PReLU, Permute, 1-D layers …), decomposed and
  /// fused, survives the snake_case JSON.
  @Test(arguments: [
    "keras3_func_mlp", "keras3_func_res", "keras3_func_rgb", "keras3_func_seq", "keras3_seq_cnn",
    "keras3_func_deconv",
  ])
  func everyFixtureOpRoundTrips(name: String) throws {
    let graph = try KerasModelReader.read(
      KerasFixtureTests.fixtures.appendingPathComponent("\(name).h5").path)
    let (inputs, _) = try KerasFixtureTests.expected(name)
    for fuse in [false, true] {
      let network = try SpikingNetwork(
        graph, dynamics: .signGD, normalization: .max, calibration: inputs, fuse: fuse)
      let path = directory.appendingPathComponent("\(name)-\(fuse).snn.h5").path
      try SNNFile.write(
        network, provenance: .init(sourceModel: "m", sourceSHA256: "0", toolkitVersion: "t"), to: path)
      let back = try SNNFile.read(path).network
      #expect(back.graph == network.graph, "\(name) fused \(fuse)")
      #expect(back.populations == network.populations, "\(name) fused \(fuse)")
    }
  }

  /// A version 4 file, whose JSON keys are the types' own camelCase names, reads as the same
  /// network: the file written now with its JSON attributes re-encoded the old way.
  @Test func version4FilesWithCamelCaseKeysStillRead() throws {
    let network = try converted(granularity: .channel)
    let path = directory.appendingPathComponent("v4.snn.h5").path
    try SNNFile.write(
      network, provenance: .init(sourceModel: "m", sourceSHA256: "0", toolkitVersion: "t"), to: path)
    let root = try HDF5File.open(path, mode: .readWrite).root
    let old = JSONEncoder()
    old.outputFormatting = [.sortedKeys]
    let records = network.graph.nodes.map {
      NodeJSON(name: $0.name, op: $0.op, inputs: $0.inputs, shape: $0.shape)
    }
    let nodes = String(decoding: try old.encode(records), as: UTF8.self)
    #expect(nodes.contains("\"useBias\"") && nodes.contains("\"kernelSize\""))
    try root.group("graph").writeAttribute("nodes", string: nodes)
    for spec in network.populations {
      let group = try root.group("populations").group(spec.node)
      try group.writeAttribute("target", string: String(decoding: try old.encode(spec.target), as: UTF8.self))
      try group.writeAttribute(
        "schedule", string: String(decoding: try old.encode(spec.schedule), as: UTF8.self))
    }
    try root.writeAttribute("version", values: [Int64(4)])
    let back = try SNNFile.read(path).network
    #expect(back.graph == network.graph && back.populations == network.populations)
  }

  /// The node records as version 4 wrote them.
  struct NodeJSON: Encodable {
    let name: String
    let op: Op
    let inputs: [String]
    let shape: [Int]
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
      # Every key of every JSON attribute is snake_case.
      def keys(value):
          if isinstance(value, dict):
              for key, item in value.items():
                  yield key
                  yield from keys(item)
          elif isinstance(value, list):
              for item in value:
                  yield from keys(item)
      texts = [f["graph"].attrs["nodes"]] + [f["populations"][n].attrs[a] for n in order for a in ("schedule", "target")]
      bad = sorted({k for t in texts for k in keys(json.loads(t)) if k != k.lower()})
      assert not bad, bad
      assert any(n["op"].get("conv2d", {}).get("_0", {}).get("use_bias") is True for n in nodes), nodes
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
    try HDF5File.open(path, mode: .readWrite).root.writeAttribute("version", values: [SNNFile.version + 1])
    #expect(
      throws: ModelIOError.badConfig(
        file: path,
        detail:
          "written in format version \(SNNFile.version + 1); this toolkit reads up to version \(SNNFile.version)"
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
