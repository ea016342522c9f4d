import Foundation
import HDF5
import TestSupport
import Testing

/// The tools as a job of two processes under Open MPI's `mpirun` (docs/scaling.md).
@Suite(.needsMPI, .needsFashionMNIST, .serialized) struct MPITests {
  func record(_ path: URL) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as? [String: Any])
  }

  /// Runs `snnsim` with `arguments` alone and as a job of two ranks, each writing its results
  /// in `directory`, and checks that both measured the same accuracy and populations; returns
  /// the two records and the job's outcome.
  func runAloneAndInJob(_ arguments: [String], in directory: URL) throws -> (
    [String: Any], [String: Any], ToolOutcome
  ) {
    let one = directory.appendingPathComponent("one.json")
    let two = directory.appendingPathComponent("two.json")
    let alone = try runTool("snnsim", arguments + ["--results", one.path])
    #expect(alone.status == 0, "\(alone.stderr)")
    let job = try runToolInJob(ranks: 2, "snnsim", arguments + ["--results", two.path])
    #expect(job.status == 0, "\(job.stderr)")
    let (a, b) = (try record(one), try record(two))
    #expect(a["accuracy"] as? [Double] == b["accuracy"] as? [Double])
    let populations = try #require(a["populations"] as? [[String: Any]])
    #expect(!populations.isEmpty)
    #expect(NSArray(array: populations).isEqual(to: try #require(b["populations"] as? [[String: Any]])))
    return (a, b, job)
  }

  /// Batches dealt over two ranks and their measures added in batch order on each: the same
  /// accuracy counts, errors, spikes and synaptic operations as one process, to the bit.
  @Test(arguments: ["models/mlp.h5", "models/cnn.h5"])
  func simulationOverTwoRanksMatchesOneProcess(model: String) throws {
    let directory = try makeTemporaryDirectory("mpi-run")
    let network = directory.appendingPathComponent("net.snn.h5")
    let convert = try runTool("snnconv", ["convert", model, "--calibration", "100", "-o", network.path])
    try #require(convert.status == 0, "\(convert.stderr)")
    let (a, b, job) = try runAloneAndInJob(
      ["run", network.path, "--limit", "100", "--batch-size", "20", "--timesteps", "4,16", "--threads", "1"],
      in: directory)
    // Rank 0 alone prints the table.
    #expect(job.stdout.components(separatedBy: "ANN accuracy").count == 2, "\(job.stdout)")
    #expect(a["images"] as? Int == 100 && b["images"] as? Int == 100)
    #expect(a["ann_accuracy"] as? Double == b["ann_accuracy"] as? Double)
    let raster = try #require(a["raster"] as? [String: Any])
    #expect(NSDictionary(dictionary: raster).isEqual(to: try #require(b["raster"] as? [String: Any])))
  }

  /// Every population's scales: the largest λ and, per channel, each.
  func scales(_ path: String) throws -> [String: [Double]] {
    let populations = try HDF5File.open(path).root.group("populations")
    var found = [String: [Double]]()
    for name in try populations.readStringAttribute("order") {
      let group = try populations.group(name)
      let perChannel = group.contains("scales") ? try group.dataset("scales").read(as: Double.self) : []
      found[name] = try group.readAttribute("scale", as: Double.self) + perChannel
    }
    return found
  }

  /// A NIR graph's batches dealt over two ranks: the same accuracy and spike counts.
  @Test func nirGraphOverTwoRanksMatchesOneProcess() throws {
    let directory = try makeTemporaryDirectory("mpi-nir")
    let network = directory.appendingPathComponent("if.snn.h5").path
    let graph = directory.appendingPathComponent("if.nir").path
    let convert = try runTool(
      "snnconv", ["convert", "models/mlp.h5", "--dynamics", "if", "--calibration", "100", "-o", network])
    try #require(convert.status == 0, "\(convert.stderr)")
    let export = try runTool("snnconv", ["export", network, "-o", graph])
    try #require(export.status == 0, "\(export.stderr)")
    _ = try runAloneAndInJob(
      ["run", graph, "--limit", "100", "--batch-size", "20", "--timesteps", "8,32", "--threads", "1"],
      in: directory)
  }

  /// Calibration chunks dealt over two ranks, maxima merged by MPI_MAX and percentile samples
  /// gathered: the same scales as one process, exactly.
  @Test(arguments: ["max", "p99.9"])
  func calibrationOverTwoRanksGivesTheSameScales(normalization: String) throws {
    let directory = try makeTemporaryDirectory("mpi-convert")
    // Three chunks of 100 images: rank 0 runs the first and third, rank 1 the second.
    let arguments = [
      "convert", "models/mlp.h5", "--normalize", normalization, "--granularity", "channel", "--calibration",
      "300",
    ]
    let one = directory.appendingPathComponent("one.snn.h5").path
    let two = directory.appendingPathComponent("two.snn.h5").path
    let alone = try runTool("snnconv", arguments + ["-o", one])
    #expect(alone.status == 0, "\(alone.stderr)")
    let job = try runToolInJob(ranks: 2, "snnconv", arguments + ["-o", two])
    #expect(job.status == 0, "\(job.stderr)")
    #expect(job.stdout.components(separatedBy: "wrote ").count == 2, "rank 0 alone reports: \(job.stdout)")
    let (a, b) = (try scales(one), try scales(two))
    #expect(a.count == 3 && a.values.allSatisfy { $0.count > 1 })
    #expect(a == b)
  }

  /// Tuning in a job cuts the tuning images into one batch per thread of every rank and deals
  /// the batches: two ranks of one thread tune exactly as one process of two threads.
  @Test func tuningOverTwoRanksMatchesOneProcessWithTheirThreads() throws {
    let directory = try makeTemporaryDirectory("mpi-tune")
    let arguments = [
      "convert", "models/mlp.h5", "--target-timesteps", "8", "--calibration", "100", "--tuning-images", "100",
    ]
    let one = directory.appendingPathComponent("one.snn.h5").path
    let two = directory.appendingPathComponent("two.snn.h5").path
    let alone = try runTool("snnconv", arguments + ["--threads", "2", "-o", one])
    #expect(alone.status == 0, "\(alone.stderr)")
    let job = try runToolInJob(ranks: 2, "snnconv", arguments + ["--threads", "1", "-o", two])
    #expect(job.status == 0, "\(job.stderr)")
    let a = try runTool("snnconv", ["inspect", "--json", one])
    let b = try runTool("snnconv", ["inspect", "--json", two])
    #expect(
      a.status == 0 && a.stdout.contains("\"schedule\"") && a.stdout == b.stdout, "\(a.stdout)\n\(b.stdout)")
  }

  /// A comparison over two ranks: each combination converted on both, its batches dealt over
  /// them; rank 0 writes the same runs and report as one process.
  @Test func compareOverTwoRanksMatchesOneProcess() throws {
    let directory = try makeTemporaryDirectory("mpi-compare")
    func arguments(_ output: String) -> [String] {
      [
        "compare", "models/mlp.h5", "--dynamics", "signgd,subgradient", "--normalize", "max", "--calibration",
        "100", "--limit", "60", "--batch-size", "20", "--timesteps", "4,16", "--threads", "1", "-o",
        directory.appendingPathComponent(output).path,
      ]
    }
    let alone = try runTool("snnsim", arguments("one"))
    #expect(alone.status == 0, "\(alone.stderr)")
    let job = try runToolInJob(ranks: 2, "snnsim", arguments("two"))
    #expect(job.status == 0, "\(job.stderr)")
    for name in ["signgd-max", "subgradient-max"] {
      let a = try record(directory.appendingPathComponent("one/runs/\(name).json"))
      let b = try record(directory.appendingPathComponent("two/runs/\(name).json"))
      #expect(a["accuracy"] as? [Double] == b["accuracy"] as? [Double], "\(name)")
      let populations = try #require(a["populations"] as? [[String: Any]])
      #expect(NSArray(array: populations).isEqual(to: try #require(b["populations"] as? [[String: Any]])))
      #expect(
        FileManager.default.fileExists(
          atPath: directory.appendingPathComponent("two/networks/\(name).snn.h5").path))
    }
    #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("two/index.html").path))
  }

  /// Every float32 tensor of a Keras file's weights, by path.
  func weights(_ path: String) throws -> [String: [Float]] {
    let root = try HDF5File.open(path).root.group("model_weights")
    var found = [String: [Float]]()
    func visit(_ group: HDF5Group, _ prefix: String) throws {
      for name in try group.children() {
        let path = prefix + "/" + name
        if group.kind(of: name) == .dataset {
          found[path] = try group.dataset(name).read(as: Float.self)
        } else {
          try visit(try group.group(name), path)
        }
      }
    }
    try visit(root, "")
    return found
  }

  /// Data-parallel training: each rank computes its shards of every global batch of 256 (four
  /// shards of 64), the gradients are summed, and every rank applies the same update. After an
  /// epoch the weights agree with one process's to float32 rounding: within 1e-5 of each
  /// tensor's largest magnitude (3.3e-6 measured for the MLP on 2,000 images).
  @Test func trainingOverTwoRanksMatchesOneProcess() throws {
    let directory = try makeTemporaryDirectory("mpi-fit")
    func arguments(_ output: String) -> [String] {
      [
        "fit", "--model", "mlp", "--epochs", "1", "--limit", "1024", "--batch-size", "256", "--test-limit",
        "0",
        "-o", directory.appendingPathComponent(output).path,
      ]
    }
    let alone = try runTool("snntrain", arguments("one.h5"))
    #expect(alone.status == 0, "\(alone.stderr)")
    let job = try runToolInJob(ranks: 2, "snntrain", arguments("two.h5"))
    #expect(job.status == 0, "\(job.stderr)")
    #expect(job.stdout.components(separatedBy: "saved ").count == 2, "rank 0 alone reports: \(job.stdout)")
    let a = try weights(directory.appendingPathComponent("one.h5").path)
    let b = try weights(directory.appendingPathComponent("two.h5").path)
    #expect(a.count >= 6 && Set(a.keys) == Set(b.keys))
    for (path, x) in a {
      let y = try #require(b[path])
      let largest = x.map(abs).max() ?? 0
      let difference = zip(x, y).map { abs($0 - $1) }.max() ?? 0
      #expect(difference <= 1e-5 * largest, "\(path): \(difference) of \(largest)")
      // Not trivially equal: training moved the weights.
      #expect(largest > 0)
    }
  }

  /// A command that does not spread its work runs on rank 0 alone: printed once, and a
  /// mistake in the arguments is reported once, with its usual exit code.
  @Test func otherCommandsRunOnRankZeroAlone() throws {
    let inspect = try runToolInJob(ranks: 2, "snnconv", ["inspect", "models/mlp.h5"])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.components(separatedBy: "335114 parameters").count == 2, "\(inspect.stdout)")
    let mistaken = try runToolInJob(ranks: 2, "snnsim", ["run", "x.snn.h5", "--timesteps", "0"])
    #expect(mistaken.status == 64)
    #expect(
      mistaken.stderr.components(separatedBy: "is invalid for '--timesteps").count == 2, "\(mistaken.stderr)")
  }

  /// A rank that fails ends every rank at once, with its message and a non-zero exit, and
  /// nothing is written.
  @Test func aFailingRankEndsTheJob() throws {
    let directory = try makeTemporaryDirectory("mpi-fail")
    let results = directory.appendingPathComponent("run.json")
    let network = directory.appendingPathComponent("net.snn.h5")
    let convert = try runTool(
      "snnconv", ["convert", "models/mlp.h5", "--calibration", "50", "-o", network.path])
    try #require(convert.status == 0, "\(convert.stderr)")
    let started = Date()
    let job = try runToolInJob(
      ranks: 2, "snnsim", ["run", network.path, "--timesteps", "512", "--results", results.path],
      environment: ["SNNKIT_FAIL_ON_RANK": "1"])
    #expect(job.status != 0)
    #expect(job.stderr.contains("rank 1 of 2") && job.stderr.contains("failure injected"), "\(job.stderr)")
    #expect(!FileManager.default.fileExists(atPath: results.path))
    // Rank 0 would simulate 5,000 test images for 512 steps, minutes: it was stopped instead.
    #expect(Date().timeIntervalSince(started) < 60)
  }
}
