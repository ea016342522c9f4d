import Conversion
import Datasets
import Foundation
import Graph
import HDF5
import ModelIO
import Spiking
import Tensor
import TestSupport
import Testing

/// `snnconv export`: the files load with the real `nir` package, and an independent numpy
/// simulator of NIR's semantics (tools/nir_reference.py) reproduces the toolkit's spikes and
/// readout on them.
@Suite(.enabled(if: pythonHas("nir", "numpy"), "needs python3 with nir and numpy"))
struct NIRExportTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("nir-export") }

  /// Writes `images` (channel-last `N×H×W×C`, or `N×features`) as a float32 `.npy` file in
  /// NIR's channel-first layout.
  func writeNPY(_ images: Tensor<Float>, to url: URL) throws {
    let channelFirst = images.rank == 4 ? images.permuted([0, 3, 1, 2]) : images
    try TestSupport.writeNPY(shape: channelFirst.shape, values: channelFirst.scalars, to: url)
  }

  /// Converts `graph` to membrane neurons, simulates `images` for `steps` steps, exports the
  /// network and runs the reference simulator on the file; compares spike totals per
  /// population and the summed readout. `startPerChannel` gives every population a start of
  /// its own per channel (as tuning may), instead of `initialMembrane` for all.
  func checkAgainstReference(
    _ graph: Graph, calibration: Tensor<Float>, images: Tensor<Float>, steps: Int,
    reset: ResetMode = .subtract, leak: Double? = nil,
    initialMembrane: Double = ConversionSettings.defaultInitialMembrane, startPerChannel: Bool = false,
    offsets: Bool = false, offsetPopulations: Int = 2
  ) throws {
    var network = try SpikingNetwork(
      converting: graph,
      settings: ConversionSettings(
        dynamics: .integrateAndFire, calibrationImages: calibration.shape[0],
        neuron: MembraneIntegrateAndFire.Membrane(reset: reset, leak: leak).parameters,
        initialMembrane: initialMembrane),
      calibration: calibration)
    if startPerChannel {
      network = try network.replacing(
        populations: network.populations.map { spec in
          let channels = network.graph.node(spec.node)!.shape.last!
          return spec.with(initial: (0..<channels).map { 0.1 + 0.8 * Double($0) / Double(channels) })
        })
    }
    if offsets {
      // A shift per channel of the populations a convolution or Dense feeds (as tuning gives).
      network = try network.replacing(
        populations: network.populations.map { spec in
          let feed = network.graph.node(network.graph.node(spec.node)!.inputs[0])!
          guard ["Dense", "Conv2D", "Add"].contains(feed.op.kind) else { return spec }
          let channels = feed.shape.last!
          return spec.with(offsets: (0..<channels).map { 0.05 * Double($0 % 3) - 0.04 })
        })
      #expect(network.populations.filter { !$0.offsets.isEmpty }.count == offsetPopulations)
    }
    let starts = network.populations.contains { $0.initial.contains { $0 != 0 } }
    let count = images.shape[0]
    let result = try Simulator.run(
      network, images: images, labels: [Int](repeating: 0, count: count),
      settings: SimulationSettings(timesteps: [steps], batchSize: count), keepReadout: true)
    let path = directory.appendingPathComponent("net.nir")
    let warnings = try NIRExport.write(network, to: path.path, form: .exact)
    #expect(
      warnings.count == (reset == .subtract ? network.populations.count : 0) + (starts ? 1 : 0), "\(warnings)"
    )
    let inputs = directory.appendingPathComponent("x.npy")
    try writeNPY(try graph.adaptInput(images), to: inputs)
    let out = directory.appendingPathComponent("ref.json")
    let run = try runProcess(
      "/usr/bin/env",
      [
        "python3", repositoryRoot.appendingPathComponent("tools/nir_reference.py").path, path.path,
        inputs.path,
        String(steps), out.path,
      ])
    #expect(run.status == 0, "\(run.output)")
    let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [String: Any]
    let spikes = reference["spikes"] as! [String: Int]
    #expect(spikes.count == network.populations.count)
    for population in result.populations {
      let ours = population.spikesPerNeuronPerStep[0] * Double(population.neurons * count * steps)
      let theirs = spikes[population.name.replacingOccurrences(of: "/", with: ".")]
      // Equal: the membranes round as NIR's equations do, and the affine maps of these small
      // networks happen to add alike. (A membrane within rounding of its threshold could
      // still fire in one simulator and not the other, where their sums add in other orders.)
      #expect(
        theirs.map { Double($0) == ours.rounded() } ?? false,
        "\(population.name): \(ours.rounded()) spikes here, \(theirs.map(String.init) ?? "none") in the reference"
      )
    }
    let output = (reference["output"] as! [[Double]]).flatMap { $0 }
    let readout = result.readout!.map(Double.init)
    #expect(output.count == readout.count)
    let scale = readout.map(abs).max() ?? 1
    for (a, b) in zip(readout, output) { #expect(abs(a - b) <= 1e-4 * scale, "readout \(a) vs \(b)") }

    // Read back as a NIR graph and run by the toolkit (reset by subtraction and the starting
    // membranes honoured from the metadata), the file runs as the network did.
    let imported = try NIRReader.read(path.path)
    let importedRun = try Simulator.run(
      imported, images: try imported.adapt(images: try graph.adaptInput(images)),
      labels: [Int](repeating: 0, count: count), timesteps: [steps], batchSize: count, keepReadout: true)
    #expect(importedRun.populations.count == network.populations.count)
    for population in result.populations {
      let ours = population.spikesPerNeuronPerStep[0] * Double(population.neurons * count * steps)
      let name = population.name.replacingOccurrences(of: "/", with: ".")
      let imported = importedRun.populations.first { $0.name == name }
      #expect(
        imported.map { $0.spikes[0] == ours.rounded() } ?? false,
        "\(population.name): \(ours.rounded()) spikes in the network, \(imported.map { "\($0.spikes[0])" } ?? "none") imported"
      )
    }
    for (a, b) in zip(readout, importedRun.readout!) {
      #expect(abs(a - Double(b)) <= 1e-4 * scale, "readout \(a) vs \(b) imported")
    }
  }

  /// Convolution, ReLU, 2×2 max pooling, average pooling, Flatten and Dense: every op the
  /// export writes, on shapes where channel order matters (9×9×2 input); and 12 images.
  static func imageGraph() throws -> (Graph, Tensor<Float>) {
    var random = SeededRandom(seed: 3)
    func tensor(_ shape: [Int], _ scale: Float = 0.6) -> Tensor<Float> {
      Tensor(shape: shape, scalars: random.uniform(shape.reduce(1, *), in: -scale...scale))
    }
    let graph = try Graph(
      name: "image",
      nodes: [
        Node(name: "x", op: .input(shape: [9, 9, 2])),
        Node(
          name: "conv1", op: .conv2d(Conv2DAttributes(filters: 4, kernelSize: [3, 3], padding: .same)),
          inputs: ["x"], parameters: ["kernel": tensor([3, 3, 2, 4]), "bias": tensor([4], 0.1)]),
        Node(name: "relu1", op: .activation(.relu), inputs: ["conv1"]),
        Node(name: "pool1", op: .pool2d(Pool2DAttributes(mode: .max, size: [2, 2])), inputs: ["relu1"]),
        Node(
          name: "conv2", op: .conv2d(Conv2DAttributes(filters: 5, kernelSize: [3, 3], padding: .same)),
          inputs: ["pool1"], parameters: ["kernel": tensor([3, 3, 4, 5]), "bias": tensor([5], 0.1)]),
        Node(name: "relu2", op: .activation(.relu), inputs: ["conv2"]),
        Node(name: "pool2", op: .pool2d(Pool2DAttributes(mode: .average, size: [2, 2])), inputs: ["relu2"]),
        Node(name: "flat", op: .flatten, inputs: ["pool2"]),
        Node(
          name: "out", op: .dense(units: 3, useBias: true), inputs: ["flat"],
          parameters: ["kernel": tensor([20, 3], 1), "bias": tensor([3], 0.1)]),
      ])
    let images = Tensor<Float>(shape: [12, 9, 9, 2], scalars: random.uniform(12 * 162, in: 0...1))
    return (graph, images)
  }

  @Test func anImageNetworkRunsTheSameInTheReferenceSimulator() throws {
    // Calibrated on other images than it runs: calibrated on the same, the neuron that sets a
    // channel's λ gets exactly its threshold every step, a tie that rounding decides.
    let (graph, images) = try Self.imageGraph()
    try checkAgainstReference(
      graph, calibration: images.rows(0..<6), images: images.rows(6..<12), steps: 24)
  }

  /// Membranes started at rest (what NIR itself says) and with a start per channel (metadata in
  /// NIR's channel order, which both runtimes must read alike).
  @Test(arguments: [false, true])
  func startingMembranesRunTheSameInTheReferenceSimulator(perChannel: Bool) throws {
    let (graph, images) = try Self.imageGraph()
    try checkAgainstReference(
      graph, calibration: images.rows(0..<6), images: images.rows(6..<12), steps: 24,
      initialMembrane: 0, startPerChannel: perChannel)
  }

  /// Input offsets (tuning's correction) written into the bias of the convolution that feeds a
  /// population: both runtimes then run the network as the toolkit did.
  @Test func inputOffsetsRunTheSameInTheReferenceSimulator() throws {
    let (graph, images) = try Self.imageGraph()
    try checkAgainstReference(
      graph, calibration: images.rows(0..<6), images: images.rows(6..<12), steps: 24, initialMembrane: 0,
      offsets: true)
  }

  /// … and on the residual MLP, where the last population reads an add: its offsets go into the
  /// bias of the Dense that is one of the add's terms.
  @Test(.needsFashionMNIST) func inputOffsetsAfterAResidualAddRunTheSame() throws {
    let model = try KerasModelReader.read(repositoryRoot.appendingPathComponent("models/resmlp.h5").path)
    let calibration = try DataSource.fashionMNIST.load(.train, limit: 200).images
    let test = try DataSource.fashionMNIST.load(.test, limit: 4).images
    try checkAgainstReference(
      model, calibration: calibration, images: test, steps: 16, initialMembrane: 0, offsets: true,
      offsetPopulations: 4)
  }

  /// An offset on a population that no Dense or Conv2D alone feeds has no place in NIR.
  @Test func anOffsetNIRCannotHoldIsRefusedNamingThePopulation() throws {
    let (graph, images) = try Self.imageGraph()
    let network = try SpikingNetwork(
      converting: graph, settings: ConversionSettings(dynamics: .integrateAndFire, calibrationImages: 6),
      calibration: images.rows(0..<6))
    // The populations of the max pooling tree read a difference, not a convolution.
    let pooled = try #require(network.populations.first { $0.node.hasPrefix("pool1/") })
    let shifted = try network.replacing(
      populations: network.populations.map { $0.node == pooled.node ? $0.with(offsets: [0.1]) : $0 })
    let path = directory.appendingPathComponent("offset.nir").path
    #expect {
      try NIRExport.write(shifted, to: path, form: .exact)
    } throws: { error in
      "\(error)".contains(pooled.node) && "\(error)".contains("input offsets")
    }
    #expect(!FileManager.default.fileExists(atPath: path))
  }

  /// Keras-style preprocessing and padding: a Rescaling (scale only) folds through the zero
  /// padding into the grouped convolution after it, the even padding becomes that
  /// convolution's NIR padding, and a dilated convolution is written as its ordinary kernel.
  @Test func rescalingPaddingGroupsAndDilationExport() throws {
    var random = SeededRandom(seed: 4)
    func tensor(_ shape: [Int], _ scale: Float = 0.6) -> Tensor<Float> {
      Tensor(shape: shape, scalars: random.uniform(shape.reduce(1, *), in: -scale...scale))
    }
    let graph = try Graph(
      name: "padded",
      nodes: [
        Node(name: "x", op: .input(shape: [9, 9, 2])),
        Node(
          name: "rescale", op: .scaleShift(scale: true, shift: false), inputs: ["x"],
          parameters: ["gamma": Tensor(shape: [2], scalars: [0.5, 2])]),
        Node(name: "pad", op: .zeroPad2d(top: 1, bottom: 1, left: 1, right: 1), inputs: ["rescale"]),
        Node(
          name: "grouped", op: .conv2d(Conv2DAttributes(filters: 4, kernelSize: [3, 3], groups: 2)),
          inputs: ["pad"], parameters: ["kernel": tensor([3, 3, 1, 4]), "bias": tensor([4], 0.1)]),
        Node(name: "relu1", op: .activation(.relu), inputs: ["grouped"]),
        Node(
          name: "dilated", op: .conv2d(Conv2DAttributes(filters: 4, kernelSize: [3, 3], dilation: [2, 2])),
          inputs: ["relu1"], parameters: ["kernel": tensor([3, 3, 4, 4]), "bias": tensor([4], 0.1)]),
        Node(name: "relu2", op: .activation(.relu), inputs: ["dilated"]),
        Node(name: "flat", op: .flatten, inputs: ["relu2"]),
        Node(
          name: "out", op: .dense(units: 3, useBias: true), inputs: ["flat"],
          parameters: ["kernel": tensor([100, 3], 0.3), "bias": tensor([3], 0.1)]),
      ])
    let images = Tensor<Float>(shape: [12, 9, 9, 2], scalars: random.uniform(12 * 162, in: 0...1))
    try checkAgainstReference(graph, calibration: images.rows(0..<6), images: images.rows(6..<12), steps: 24)
  }

  @Test func leakyNeuronsResettingToZeroToo() throws {
    let (graph, images) = try Self.imageGraph()
    try checkAgainstReference(
      graph, calibration: images.rows(0..<6), images: images.rows(6..<12), steps: 24, reset: .zero, leak: 8,
      initialMembrane: 0)
  }

  @Test(.needsFashionMNIST, arguments: ["mlp", "cnn"])
  func shippedModelsRunTheSameInTheReferenceSimulator(name: String) throws {
    let model = try KerasModelReader.read(repositoryRoot.appendingPathComponent("models/\(name).h5").path)
    let calibration = try DataSource.fashionMNIST.load(.train, limit: 200).images
    let test = try DataSource.fashionMNIST.load(.test, limit: 4).images
    try checkAgainstReference(model, calibration: calibration, images: test, steps: 16)
  }

  /// The portable form (every population's scale folded into the weights around it) runs as the
  /// exact form does up to float rounding — run as a NIR graph by this toolkit and by the
  /// independent reference — and holds only what the frameworks' importers read: IF/LIF with
  /// r = 1 and v_threshold just above 1, no Scale node, names of letters, digits and
  /// underscores, dt = 1.
  @Test(
    .needsFashionMNIST,
    arguments: [("mlp", false), ("mlp", true), ("cnn", false), ("bench-cnn", false), ("resmlp", false)])
  func thePortableFormRunsAsTheExactOne(name: String, leaky: Bool) throws {
    let model = try KerasModelReader.read(repositoryRoot.appendingPathComponent("models/\(name).h5").path)
    let calibration = try DataSource.fashionMNIST.load(.train, limit: 200).images
    let test = try DataSource.fashionMNIST.load(.test, limit: 100).images
    let network = try SpikingNetwork(
      converting: model,
      settings: ConversionSettings(
        dynamics: .integrateAndFire, calibrationImages: 200,
        neuron: MembraneIntegrateAndFire.Membrane(reset: .zero, leak: leaky ? 16 : nil).parameters,
        initialMembrane: 0),
      calibration: calibration)
    let exact = directory.appendingPathComponent("\(name)-exact.nir").path
    let portable = directory.appendingPathComponent("\(name)-portable.nir").path
    #expect(try NIRExport.write(network, to: exact, form: .exact).isEmpty)
    #expect(try NIRExport.write(network, to: portable).isEmpty)
    let steps = 32
    var readouts = [[Float]]()
    for path in [exact, portable] {
      let graph = try NIRReader.read(path)
      let run = try Simulator.run(
        graph, images: try graph.adapt(images: try model.adaptInput(test)),
        labels: [Int](repeating: 0, count: 100), timesteps: [steps], batchSize: 50, keepReadout: true)
      readouts.append(run.readout!)
    }
    let width = readouts[0].count / 100
    func argmax(_ r: [Float], _ image: Int) -> Int {
      (0..<width).max { r[image * width + $0] < r[image * width + $1] }!
    }
    let same = (0..<100).filter { argmax(readouts[0], $0) == argmax(readouts[1], $0) }.count
    let scale = readouts[0].map(abs).max()!
    let meanDifference =
      zip(readouts[0], readouts[1]).map { Double(abs($0 - $1)) }.reduce(0, +)
      / Double(readouts[0].count)
    // A membrane within rounding of its threshold may fire in one form and not the other; such
    // ties are rare, so the readouts agree closely on average and the classes almost always.
    #expect(same >= 99, "\(name): same class on \(same) of 100 images")
    #expect(meanDifference <= 1e-3 * Double(scale), "\(name): mean readout difference \(meanDifference)")

    // What the file holds, read by the nir package, and run by the independent reference.
    let inputs = directory.appendingPathComponent("\(name)-x.npy")
    try writeNPY(try model.adaptInput(test.rows(0..<10)), to: inputs)
    let out = directory.appendingPathComponent("\(name)-ref.json")
    let script = """
      import re, sys, nir, numpy as np
      g = nir.read(sys.argv[1])
      assert float(g.metadata["dt"]) == 1.0, g.metadata
      for name, node in g.nodes.items():
          kind = type(node).__name__
          assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), name
          assert kind != "Scale", name
          if kind in ("IF", "LIF"):
              # The float just above 1: v > 1 and v >= 1 + 2^-23 are one test in float32.
              assert np.all(node.r == 1), name
              assert np.all(node.v_threshold == np.nextafter(np.float32(1), np.float32(2))), name
      print("checked", len(g.nodes))
      """
    let check = try runProcess("/usr/bin/env", ["python3", "-c", script, portable])
    #expect(check.status == 0 && check.output.contains("checked"), "\(check.output)")
    let run = try runProcess(
      "/usr/bin/env",
      [
        "python3", repositoryRoot.appendingPathComponent("tools/nir_reference.py").path, portable,
        inputs.path,
        String(steps), out.path,
      ])
    #expect(run.status == 0, "\(run.output)")
    let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [String: Any]
    let output = (reference["output"] as! [[Double]]).flatMap { $0 }
    let ours = readouts[1].prefix(output.count).map(Double.init)
    let referenceDifference = zip(ours, output).map { abs($0 - $1) }.reduce(0, +) / Double(output.count)
    #expect(
      referenceDifference <= 1e-3 * Double(scale), "\(name): reference differs by \(referenceDifference)")
  }

  /// The exact form, as the nir package reads it.
  @Test func theFileIsTheGraphWeMeant() throws {
    let (model, images) = try Self.imageGraph()
    let network = try SpikingNetwork(
      converting: model, settings: ConversionSettings(dynamics: .integrateAndFire, calibrationImages: 6),
      calibration: images)
    let path = directory.appendingPathComponent("graph.nir").path
    _ = try NIRExport.write(network, to: path, form: .exact)
    let script = """
      import sys, nir, numpy as np
      g = nir.read(sys.argv[1])
      kinds = {}
      for name, node in g.nodes.items():
          kinds.setdefault(type(node).__name__, []).append(name)
      print("IF", len(kinds.get("IF", [])))
      print("Input", [int(v) for v in g.nodes[kinds["Input"][0]].input_type["input"]])
      print("Output", [int(v) for v in g.nodes["output"].output_type["output"]])
      for name in kinds["IF"]:
          node = g.nodes[name]
          assert np.all(node.v_threshold == 1) and np.all(node.r > 0), name
          assert node.metadata.get("reset_mode") in ("subtract", b"subtract"), name
      assert all(s in g.nodes and t in g.nodes for s, t in g.edges)
      """
    let run = try runProcess("/usr/bin/env", ["python3", "-c", script, path])
    #expect(run.status == 0, "\(run.output)")
    let inputShape = model.inputNodes[0].shape
    #expect(run.output.contains("IF \(network.populations.count)"), "\(run.output)")
    #expect(
      run.output.contains("Input \([inputShape[2], inputShape[0], inputShape[1]])"), "\(run.output)")
    #expect(run.output.contains("Output \(model.node(network.readout)!.shape)"), "\(run.output)")
  }

  @Test func aGraphWrittenByTheNIRPackageIsListed() throws {
    let path = directory.appendingPathComponent("written-by-nir.nir").path
    let script = """
      import sys, nir, numpy as np
      g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([2, 5, 5])}),
        "conv": nir.Conv2d(input_shape=(5, 5), weight=np.ones((3, 2, 3, 3), dtype=np.float32), stride=1,
                           padding=1, dilation=1, groups=1, bias=np.zeros(3, dtype=np.float32)),
        "lif": nir.LIF(tau=np.full((3, 5, 5), 4.0), r=np.ones((3, 5, 5)), v_leak=np.zeros((3, 5, 5)),
                       v_threshold=np.ones((3, 5, 5))),
        "pool": nir.SumPool2d(kernel_size=np.array([5, 5]), stride=np.array([5, 5]), padding=np.array([0, 0])),
        "flat": nir.Flatten(start_dim=0, end_dim=-1, input_type={"input": np.array([3, 1, 1])}),
        "out": nir.Output(output_type={"output": np.array([3])}),
      }, edges=[("in", "conv"), ("conv", "lif"), ("lif", "pool"), ("pool", "flat"), ("flat", "out")])
      nir.write(sys.argv[1], g)
      """
    let run = try runProcess("/usr/bin/env", ["python3", "-c", script, path])
    #expect(run.status == 0, "\(run.output)")
    #expect(NIRSummary.isNIRFile(path))
    let summary = try NIRSummary(path: path)
    #expect(summary.nodes.map(\.type) == ["Conv2d", "Flatten", "Input", "LIF", "Output", "SumPool2d"])
    #expect(summary.edges.count == 5 && summary.edges[0] == ["in", "conv"])
    let lif = summary.nodes.first { $0.name == "lif" }!
    #expect(
      lif.parameters.map(\.name).contains("tau") && lif.parameters.allSatisfy { $0.shape == [3, 5, 5] })
  }

  /// A graph's stated step must be one positive, finite number; the file is refused naming it.
  @Test(arguments: [-1.0, 0, .infinity, .nan])
  func aBadStatedStepIsRefused(dt: Double) throws {
    let path = directory.appendingPathComponent("bad-dt.nir").path
    let root = try HDF5File.create(path).root
    try root.writeDataset("version", strings: ["1.0.8"], shape: [])
    let graph = try root.createGroup("node")
    try graph.writeDataset("type", strings: ["NIRGraph"], shape: [])
    try graph.writeDataset("edges", strings: ["in", "out"], shape: [1, 2])
    try graph.createGroup("metadata").writeDataset("dt", values: [dt], shape: [])
    let nodes = try graph.createGroup("nodes")
    let input = try nodes.createGroup("in")
    try input.writeDataset("type", strings: ["Input"], shape: [])
    try input.writeDataset("shape", values: [Int64(3)], shape: [1])
    try nodes.createGroup("out").writeDataset("type", strings: ["Output"], shape: [])
    try root.file.flush()
    let error = #expect(throws: ModelIOError.self) { try NIRReader.read(path) }
    #expect("\(error!)".contains("metadata/dt must be one positive, finite number"), "\(error!)")
  }

  @Test func aFileThatIsNotANIRGraphIsRefusedSayingWhat() throws {
    let path = directory.appendingPathComponent("not.nir").path
    let root = try HDF5File.create(path).root
    try root.writeDataset("version", strings: ["1.0.8"], shape: [])
    #expect(!NIRSummary.isNIRFile(path))
    let error = #expect(throws: ModelIOError.self) { try NIRSummary(path: path) }
    #expect("\(error!)".contains("no /node group"), "\(error!)")
  }

  @Test func aPaddedAveragePoolingIsRefusedNamingIt() throws {
    // The fixture's 'same' average pooling divides by the window's inside, NIR's by its size.
    let (inputs, _) = try KerasFixtureTests.expected("keras3_seq_cnn")
    let model = try KerasModelReader.read(
      KerasFixtureTests.fixtures.appendingPathComponent("keras3_seq_cnn.h5").path)
    let network = try SpikingNetwork(
      model, dynamics: .integrateAndFire, normalization: .max, calibration: inputs)
    let path = directory.appendingPathComponent("padded.nir").path
    let error = #expect(throws: NIRExportError.self) { try NIRExport.write(network, to: path) }
    #expect("\(error!)".contains("'average_pooling2d' (AveragePooling2D) has no exact NIR form"), "\(error!)")
    #expect(!FileManager.default.fileExists(atPath: path))
  }

  @Test func signGDAndRateFormNetworksAreRefusedSayingWhy() throws {
    let (inputs, _) = try KerasFixtureTests.expected("keras3_seq_cnn")
    let model = try KerasModelReader.read(
      KerasFixtureTests.fixtures.appendingPathComponent("keras3_seq_cnn.h5").path)
    for dynamics in [Dynamics.signGD, .subgradient] {
      let network = try SpikingNetwork(model, dynamics: dynamics, normalization: .max, calibration: inputs)
      let path = directory.appendingPathComponent("\(dynamics.rawValue).nir").path
      let error = #expect(throws: NIRExportError.self) { try NIRExport.write(network, to: path) }
      #expect("\(error!)".contains(dynamics == .signGD ? "no sign-gradient-descent neuron" : "--dynamics if"))
      #expect(!FileManager.default.fileExists(atPath: path))
    }
  }
}
