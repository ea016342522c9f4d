import Foundation
import ModelIO
import Spiking
import Tensor
import TestSupport
import Testing

/// NIR graphs written by the `nir` package's own API (tools/make_nir_graphs.py) run here as the
/// independent numpy simulator of docs/nir.md's semantics (tools/nir_reference.py) runs them.
@Suite(.enabled(if: pythonHas("nir", "numpy"), "needs python3 with nir and numpy"))
struct NIRImportTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("nir-import") }

  func make(_ kind: String) throws -> String {
    let path = directory.appendingPathComponent("\(kind).nir").path
    let run = try runProcess(
      "/usr/bin/env",
      ["python3", repositoryRoot.appendingPathComponent("tools/make_nir_graphs.py").path, kind, path])
    #expect(run.status == 0, "\(run.output)")
    return path
  }

  /// Runs the graph of `kind` on `images` seeded random images for `steps` steps here and in
  /// the reference; compares every spiking node's spike count and the summed readout.
  @discardableResult
  func checkAgainstReference(_ kind: String, images count: Int = 6, steps: Int = 12) throws -> NIRGraph {
    let path = try make(kind)
    let graph = try NIRReader.read(path)
    var random = SeededRandom(seed: 11)
    let images: [Float] = random.uniform(count * graph.nodes[graph.input].count, in: 0...1)
    let inputs = directory.appendingPathComponent("\(kind).npy")
    try writeNPY(shape: [count] + graph.inputShape, values: images, to: inputs)
    let out = directory.appendingPathComponent("\(kind).json")
    let run = try runProcess(
      "/usr/bin/env",
      [
        "python3", repositoryRoot.appendingPathComponent("tools/nir_reference.py").path, path, inputs.path,
        String(steps), out.path,
      ])
    #expect(run.status == 0, "\(run.output)")
    let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [String: Any]
    let spikes = reference["spikes"] as! [String: Int]
    // Two batches on two threads, to exercise the sharding too.
    let result = try Simulator.run(
      graph, images: images, labels: [Int](repeating: 0, count: count), timesteps: [steps / 2, steps],
      batchSize: (count + 1) / 2, threads: 2, keepReadout: true)
    #expect(Set(result.populations.map(\.name)) == Set(spikes.keys))
    for population in result.populations {
      #expect(
        population.spikes.last == spikes[population.name].map(Double.init),
        "\(kind) \(population.name): \(population.spikes.last!) spikes here, \(spikes[population.name] ?? -1) in the reference"
      )
      #expect(population.spikes[0] <= population.spikes[1])
    }
    // Every node fires some and not always, or the comparison says little.
    for (name, total) in spikes {
      let neurons = graph.nodes.first { $0.name == name }!.count
      #expect(total > 0 && total < neurons * count * steps, "\(kind) \(name): \(total) spikes")
    }
    let output = (reference["output"] as! [[Double]]).flatMap { $0 }
    let readout = result.readout!.map(Double.init)
    #expect(output.count == readout.count && readout.count == count * graph.readoutWidth)
    let scale = readout.map(abs).max() ?? 1
    for (a, b) in zip(readout, output) { #expect(abs(a - b) <= 1e-5 * scale, "\(kind) readout \(a) vs \(b)") }
    return graph
  }

  @Test func convolutionPoolingAndEveryNeuronRunAsTheReferenceRunsThem() throws {
    let graph = try checkAgainstReference("conv")
    let shapes = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.name, $0.shape) })
    #expect(shapes["conv1"] == [4, 5, 5] && shapes["avg"] == [4, 6, 6] && shapes["conv2"] == [6, 6, 6])
    #expect(shapes["sum"] == [6, 2, 2] && shapes["flat"] == [24] && shapes["out"] == [3])
  }

  @Test func skipEdgesCurrentBasedNeuronsThresholdsAndIntegrators() throws {
    try checkAgainstReference("dense")
  }

  @Test func pyTorchsBatchInclusiveFlattenIsReadAsPyTorchMeantIt() throws {
    let graph = try checkAgainstReference("torch-flatten")
    // nir's reading of start_dim = 1 on 3×4×4 gives 3×16; the Affine takes all 48 values.
    #expect(graph.nodes.first { $0.name == "flat" }?.shape == [3, 16])
    #expect(graph.nodes.first { $0.name == "fc" }?.shape == [5])
  }

  /// An image's values in every order the engine may keep them — channels-last after a
  /// convolution, NIR's own after a flat Affine, both summed into one node; a convolution whose
  /// output channels select other input channels; per-element parameters of an image; an
  /// Affine over an image's last axis; an image-shaped readout fed channels-last — run as the
  /// reference runs them.
  @Test func imageValuesInEveryOrderRunAsTheReferenceRunsThem() throws {
    let graph = try checkAgainstReference("layouts")
    let shapes = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.name, $0.shape) })
    #expect(shapes["if"] == [4, 6, 6] && shapes["select"] == [4, 3, 3] && shapes["rows"] == [4, 3, 2])
    #expect(shapes["pool"] == [4, 3, 2] && shapes["out"] == [4, 3, 2])
    #expect(graph.readoutWidth == 24)
  }

  /// Recurrent edges — an LIF fed back through a Linear, a CubaLIF through a Linear and a
  /// Scale — bring the previous step's output, as the reference runs them.
  @Test func recurrentEdgesBringThePreviousStep() throws {
    let graph = try checkAgainstReference("recurrent", steps: 16)
    let position = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
    // Each cycle has one edge from a node that runs later: the one that carries the step before.
    let (lif, rec) = (position["lif"]!, position["rec"]!)
    #expect(graph.nodes[lif].sources.contains(rec) && graph.nodes[rec].sources.contains(lif))
    #expect((rec > lif) != (lif > rec))
  }

  @Test func inspectSaysWhetherAGraphRuns() throws {
    let summary = try NIRSummary(path: try make("conv"))
    #expect(summary.problem == nil)
    #expect(summary.nodes.first { $0.name == "conv2" }?.outputShape == [6, 6, 6])
    #expect(summary.table.contains("conv2  Conv2d → 6×6×6"), "\(summary.table)")
  }

  /// A copy of the `dense` graph with `edit` (h5py statements on the file `f`) applied.
  func edited(_ name: String, _ edit: String) throws -> String {
    let source = try make("dense")
    let path = directory.appendingPathComponent("\(name).nir").path
    let script = """
      import shutil, sys, h5py, numpy as np
      shutil.copy(sys.argv[1], sys.argv[2])
      with h5py.File(sys.argv[2], "r+") as f:
          n = f["node/nodes"]
          \(edit)
      """
    let run = try runProcess("/usr/bin/env", ["python3", "-c", script, source, path])
    #expect(run.status == 0, "\(run.output)")
    return path
  }

  @Test(arguments: [
    (
      "unknown-type",
      "del n['thr/type']; n['thr'].create_dataset('type', data='Delay', dtype=h5py.string_dtype())",
      "node 'thr': node type Delay is not supported"
    ),
    (
      "unknown-parameter", "n['fc'].create_dataset('gain', data=np.ones(1))",
      "node 'fc': Affine has no parameter 'gain'"
    ),
    ("missing-parameter", "del n['int/r']", "node 'int': I needs the parameter 'r'"),
    (
      "nan-weight",
      "w = n['fc2/weight'][()]; w[0, 0] = np.nan; del n['fc2/weight']; n['fc2'].create_dataset('weight', data=w)",
      "node 'fc2': 'weight' holds nan at element 0"
    ),
    (
      "wrong-shape",
      "del n['fc2/weight']; n['fc2'].create_dataset('weight', data=np.ones((4, 7), np.float32))",
      "node 'fc2': 'weight' 4×7 takes 7 inputs; the node's input is 6"
    ),
    (
      "negative-tau",
      "del n['cuba/tau_syn']; n['cuba'].create_dataset('tau_syn', data=-np.ones(8, np.float32))",
      "node 'cuba': 'tau_syn' must be positive"
    ),
    (
      "recurrent-only",
      "e = [[b'fc2', b'thr'] if [bytes(a), bytes(b)] == [b'fc', b'thr'] else [bytes(a), bytes(b)] for a, b in f['node/edges'][()]]; del f['node/edges']; f['node'].create_dataset('edges', data=e)",
      "node 'thr': only edges within a cycle that nothing before it feeds lead into it"
    ),
    (
      "dangling-edge",
      "e = f['node/edges'][()].tolist() + [[b'thr', b'nowhere']]; del f['node/edges']; f['node'].create_dataset('edges', data=e)",
      "edge thr → nowhere names no node 'nowhere'"
    ),
    (
      "no-output",
      "del n['out']; e = [x for x in f['node/edges'][()].tolist() if x[1] != b'out']; del f['node/edges']; f['node'].create_dataset('edges', data=e)",
      "the graph has 0 Output nodes"
    ),
  ])
  func unsupportedNodesAndBadParametersAreNamed(name: String, edit: String, expected: String) throws {
    let path = try edited(name, edit)
    let error = #expect(throws: ModelIOError.self) { try NIRReader.read(path) }
    #expect("\(error!)".contains(expected), "\(name): \(error!)")
    #expect("\(error!)".hasPrefix(path), "\(name): \(error!)")
  }
}
