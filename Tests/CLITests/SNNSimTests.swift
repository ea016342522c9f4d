import Foundation
import TestSupport
import Testing

/// The whole pipeline from the command line: convert the shipped Keras MLP, simulate, read the
/// results back.
@Suite(.needsFashionMNIST) struct SNNSimTests {
  @Test func convertThenRunWritesResults() throws {
    let directory = try makeTemporaryDirectory("pipeline")
    let network = directory.appendingPathComponent("mlp.snn.h5").path
    let convert = try runTool(
      "snnconv",
      [
        "convert", "models/keras_fashion_mlp.h5", "--dynamics", "signgd", "--normalize", "max",
        "--calibration", "200", "-o", network,
      ])
    #expect(convert.status == 0, "\(convert.stderr)")
    #expect(convert.stdout.contains("wrote \(network): 2 populations, normalization max"))
    let inspect = try runTool("snnconv", ["inspect", network])
    #expect(inspect.status == 0 && inspect.stdout.contains("2 populations, 192 neurons"), "\(inspect.stdout)")
    let json = directory.appendingPathComponent("run.json").path
    let run = try runTool(
      "snnsim", ["run", network, "--limit", "100", "--timesteps", "4,32,128", "--results", json])
    #expect(run.status == 0, "\(run.stderr)")
    let object =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
    #expect(object?["timesteps"] as? [Int] == [4, 32, 128])
    #expect((object?["accuracy"] as? [Double])?.count == 3)
    #expect(object?["ann_accuracy"] is Double)
    let populations = object?["populations"] as? [[String: Any]]
    #expect(populations?.count == 2)
    #expect((populations?.first?["mean_abs_error"] as? [Double])?.count == 3)
    #expect(populations?.first?["dynamics"] as? String == "signgd")
    let csv = try String(contentsOfFile: directory.appendingPathComponent("run.csv").path, encoding: .utf8)
    #expect(csv.split(separator: "\n").count == 4)

    // A results name ending in .csv gets the CSV, and the JSON beside it.
    let named = directory.appendingPathComponent("table.csv").path
    let again = try runTool(
      "snnsim", ["run", network, "--limit", "100", "--timesteps", "4,32,128", "--results", named])
    #expect(again.status == 0 && again.stdout.contains("table.json and \(named)"), "\(again.stdout)")
    let table = try String(contentsOfFile: named, encoding: .utf8)
    #expect(table.hasPrefix("timesteps,accuracy,") && table == csv, "\(table)")
    #expect(!FileManager.default.fileExists(atPath: named + ".csv"))

    // --json prints the record itself on standard output, and nothing else there.
    let printed = try runTool(
      "snnsim", ["run", network, "--limit", "100", "--timesteps", "4,32,128", "--json"])
    #expect(printed.status == 0, "\(printed.stderr)")
    let record = try #require(
      try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [String: Any])
    #expect(record["accuracy"] as? [Double] == object?["accuracy"] as? [Double])
    #expect(record["ann_multiply_accumulates"] as? Double ?? 0 > 0)
    let beside = try Data(contentsOf: directory.appendingPathComponent("table.json"))
    #expect(
      (try JSONSerialization.jsonObject(with: beside) as? [String: Any])?["timesteps"] as? [Int] == [
        4, 32, 128,
      ])
  }

  @Test(arguments: [
    (["run", "models/absent.snn.h5"], "no such file"),
    (["run", "models/keras_fashion_mlp.h5"], "not a snnkit.snn file"),
    (["run", "x.snn.h5", "--timesteps", "4,2"], "--timesteps must be strictly increasing"),
    (["run", "x.snn.h5", "--timesteps", "0,2"], "integers in 1…1048576"),
    (["run", "x.snn.h5", "--input", "poisson"], "--input"),
    (["run", "x.snn.h5", "--data", "/nonexistent/idx"], "/nonexistent/idx"),
    (["report", "-o", "/tmp/never"], "at least one run file"),
    (["report", "absent.json", "-o", "/tmp/never"], "absent.json: no such run file"),
    (
      ["report", "docs/runs/mlp-signgd-max.json", "-o", "README.md"],
      "cannot write README.md: it exists and is not a directory"
    ),
    (
      ["report", "Package.swift", "-o", "/tmp/never"],
      "Package.swift: not a run written by 'snnsim run --results'"
    ),
    (
      ["compare", "models/keras_fashion_mlp.h5", "--dynamics", "lif", "-o", "/tmp/never"],
      "--dynamics takes a comma-separated list of subgradient, signgd, signed-subgradient, if, burst; 'lif' is not one"
    ),
    (["compare", "models/keras_fashion_mlp.h5", "--normalize", "max,p101", "-o", "/tmp/never"], "pNN.N"),
  ])
  func badInputFailsClearly(arguments: [String], expected: String) throws {
    let result = try runTool("snnsim", arguments)
    #expect(result.status != 0)
    #expect(result.stderr.contains(expected), "\(result.stderr)")
  }

  /// `--sweep` adds an option's values to every combination it applies to (the reset to
  /// membrane neurons only), the networks made are kept, and the report tells the runs apart.
  @Test func compareSweepsAnyOptionAndKeepsTheNetworks() throws {
    let directory = try makeTemporaryDirectory("sweep")
    let result = try runTool(
      "snnsim",
      [
        "compare", "models/mlp.h5", "--dynamics", "if,signgd", "--normalize", "max", "--sweep",
        "reset=subtract,zero", "--sweep", "engine=dense,event", "--calibration", "100", "--limit", "30",
        "--timesteps", "4,16", "-o", directory.path,
      ])
    #expect(result.status == 0, "\(result.stderr)")
    let names = [
      "if-max-reset-subtract-engine-dense", "if-max-reset-subtract-engine-event",
      "if-max-reset-zero-engine-dense",
      "if-max-reset-zero-engine-event", "signgd-max-engine-dense", "signgd-max-engine-event",
    ]
    for name in names {
      #expect(result.stdout.contains("] \(name): accuracy"), "\(result.stdout)")
      let network = directory.appendingPathComponent("networks/\(name).snn.h5").path
      let inspect = try runTool("snnconv", ["inspect", network])
      #expect(inspect.status == 0, "\(name): \(inspect.stderr)")
      let expectedReset =
        name.contains("reset-zero") ? "reset zero" : name.hasPrefix("if") ? "reset subtract" : "geometric"
      #expect(inspect.stdout.contains(expectedReset), "\(name): \(inspect.stdout)")
      let run =
        try JSONSerialization.jsonObject(
          with: Data(contentsOf: directory.appendingPathComponent("runs/\(name).json"))) as? [String: Any]
      let settings = run?["settings"] as? [String: Any]
      #expect(settings?["engine"] as? String == (name.hasSuffix("event") ? "event" : "dense"))
    }
    let page = try String(contentsOf: directory.appendingPathComponent("index.html"), encoding: .utf8)
    #expect(page.contains("<td>if, event engine, reset zero</td>"), "\(page.prefix(3000))")
    #expect(!page.contains("#6</td>"), "every run is told apart by its settings")
    // An option no combination reads, and a malformed sweep, are refused before any work.
    let refused = try runTool(
      "snnsim",
      ["compare", "models/mlp.h5", "--dynamics", "signgd", "--sweep", "leak=2,4", "-o", directory.path])
    #expect(refused.status != 0 && refused.stderr.contains("--sweep leak applies only to --dynamics if"))
    let unknown = try runTool(
      "snnsim", ["compare", "models/mlp.h5", "--sweep", "colour=red,blue", "-o", directory.path])
    #expect(
      unknown.status != 0 && unknown.stderr.contains("OPTION one of fuse, granularity"), "\(unknown.stderr)")
  }

  @Test func compareConvertsSimulatesAndReportsEveryCombination() throws {
    let directory = try makeTemporaryDirectory("compare")
    let result = try runTool(
      "snnsim",
      [
        "compare", "models/keras_fashion_mlp.h5", "--dynamics", "signgd,subgradient", "--normalize",
        "none,max",
        "--calibration", "100", "--limit", "40", "--timesteps", "4,16,64", "-o", directory.path, "--json",
      ])
    #expect(result.status == 0, "\(result.stderr)")
    // With --json, standard output is the summary alone; the progress lines go to standard error.
    let summary = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
    let listed = try #require(summary["runs"] as? [[String: Any]])
    #expect(summary["report"] as? String == directory.appendingPathComponent("index.html").path)
    #expect(
      listed.map { $0["name"] as? String } == [
        "signgd-none", "signgd-max", "subgradient-none", "subgradient-max",
      ])
    for (name, entry) in zip(["signgd-none", "signgd-max", "subgradient-none", "subgradient-max"], listed) {
      #expect(result.stderr.contains("] \(name): accuracy"), "\(result.stderr)")
      let run = directory.appendingPathComponent("runs/\(name).json")
      #expect(entry["results"] as? String == run.path)
      #expect(FileManager.default.fileExists(atPath: entry["network"] as! String))
      let object = try JSONSerialization.jsonObject(with: Data(contentsOf: run)) as? [String: Any]
      #expect(object?["timesteps"] as? [Int] == [4, 16, 64])
      #expect(entry["accuracy"] as? [Double] == object?["accuracy"] as? [Double])
      #expect(entry["ann_accuracy"] as? Double == object?["ann_accuracy"] as? Double)
      // Both keys are there, null where the run never comes within the tolerance.
      #expect(entry.keys.contains("t_within_1pp") && entry.keys.contains("t_within_0_1pp"), "\(entry)")
    }
    let html = try String(contentsOf: directory.appendingPathComponent("index.html"), encoding: .utf8)
    // Accuracy, the ReLU op, the two ReLU populations, spike rates, energy and a raster per run.
    #expect(html.components(separatedBy: "<svg").count - 1 == 10)
    #expect(html.contains("<td>subgradient, max</td>"))
    // The report command reproduces the page from the runs.
    let again = try makeTemporaryDirectory("report-again")
    let runs = ["signgd-none", "signgd-max", "subgradient-none", "subgradient-max"].map {
      directory.appendingPathComponent("runs/\($0).json").path
    }
    let report = try runTool("snnsim", ["report"] + runs + ["-o", again.path])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(try String(contentsOf: again.appendingPathComponent("index.html"), encoding: .utf8) == html)
  }

  /// Reads a CSV written by `--outputs`: the header, then one row of numbers per image.
  func readOutputs(_ path: String) throws -> (header: [String], rows: [[Double]]) {
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    return (
      lines[0].split(separator: ",").map(String.init),
      lines.dropFirst().map { $0.split(separator: ",").map { Double($0)! } }
    )
  }

  @Test func membraneNetworkWritesTheReadoutSummedOverTheSteps() throws {
    let directory = try makeTemporaryDirectory("membrane")
    let network = directory.appendingPathComponent("if.snn.h5").path
    let convert = try runTool(
      "snnconv",
      [
        "convert", "models/keras_fashion_mlp.h5", "--dynamics", "if", "--reset", "subtract", "--calibration",
        "200",
        "-o", network,
      ])
    #expect(convert.status == 0, "\(convert.stderr)")
    let inspect = try runTool("snnconv", ["inspect", network])
    #expect(inspect.stdout.contains("relu  if reset subtract"), "\(inspect.stdout)")
    let nir = directory.appendingPathComponent("if.nir").path
    let export = try runTool("snnconv", ["export", network, "--exact", "-o", nir])
    #expect(
      export.status == 0 && export.stderr.contains("reset_mode = \"subtract\"")
        && export.stderr.contains("metadata initial_membrane, which this toolkit honours"),
      "\(export.stderr)")
    // The portable form warns the same, naming the population and the frameworks that ignore it.
    let portable = try runTool(
      "snnconv", ["export", network, "-o", directory.appendingPathComponent("p.nir").path])
    #expect(
      portable.status == 0 && portable.stdout.contains("portable form")
        && portable.stderr.contains("'dense_relu' resets by subtraction")
        && portable.stderr.contains("SpikingJelly, Norse, snnTorch and Sinabs ignore it"),
      "\(portable.stderr)")
    let listed = try runTool("snnconv", ["inspect", nir])
    #expect(
      listed.stdout.contains(
        "dense_relu  IF → 128  r 128, v_threshold 128  [initial_membrane = 0.5, reset_mode = subtract]")
        && listed.stdout.contains("snnsim runs it"),
      "\(listed.stdout)")
    let spiking = directory.appendingPathComponent("snn.csv").path
    let run = try runTool(
      "snnsim", ["run", network, "--limit", "20", "--timesteps", "8,64", "--outputs", spiking])
    #expect(run.status == 0 && run.stdout.contains("wrote \(spiking)"), "\(run.stderr)")
    let ann = directory.appendingPathComponent("ann.csv").path
    let eval = try runTool(
      "snnconv", ["eval", "models/keras_fashion_mlp.h5", "--limit", "20", "--outputs", ann])
    #expect(eval.status == 0, "\(eval.stderr)")
    let (header, summed) = try readOutputs(spiking)
    let (_, logits) = try readOutputs(ann)
    #expect(header == (0..<10).map { "y\($0)" })
    #expect(summed.count == 20 && summed.allSatisfy { $0.count == 10 })
    // The readout's current summed over 64 steps is 64 times the ANN's logits, give or take the
    // spikes' rounding, and picks the same class nearly always.
    var difference = 0.0
    var magnitude = 0.0
    var agree = 0
    for (s, a) in zip(summed, logits) {
      for (x, y) in zip(s, a) {
        difference += abs(x / 64 - y)
        magnitude += abs(y)
      }
      if s.indices.max(by: { s[$0] < s[$1] }) == a.indices.max(by: { a[$0] < a[$1] }) { agree += 1 }
    }
    #expect(difference / magnitude < 0.1, "relative difference \(difference / magnitude)")
    #expect(agree >= 18, "\(agree) of 20 agree")

    // The exported graph, run as NIR (reset by subtraction read from its metadata), gives the
    // network's readout and accuracy.
    let nirOutputs = directory.appendingPathComponent("nir.csv").path
    let nirResults = directory.appendingPathComponent("nir.json").path
    let nirRun = try runTool(
      "snnsim",
      ["run", nir, "--limit", "20", "--timesteps", "8,64", "--outputs", nirOutputs, "--results", nirResults])
    #expect(
      nirRun.status == 0 && nirRun.stdout.contains("(NIR 1.0.8, dt 1)"), "\(nirRun.stdout)\(nirRun.stderr)")
    let (nirHeader, nirSummed) = try readOutputs(nirOutputs)
    #expect(nirHeader == header && nirSummed.count == 20)
    for (a, b) in zip(summed.joined(), nirSummed.joined()) {
      #expect(abs(a - b) <= 1e-4 * max(abs(a), 1), "readout \(a) here, \(b) as NIR")
    }
    let snnRecord =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: try runToolResults(network, directory))))
      as! [String: Any]
    let nirRecord =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: nirResults)))
      as! [String: Any]
    #expect((nirRecord["accuracy"] as! [Double]) == (snnRecord["accuracy"] as! [Double]))
    #expect((nirRecord["settings"] as! [String: Any])["nir_version"] as? String == "1.0.8")
    #expect(FileManager.default.fileExists(atPath: String(nirResults.dropLast(5)) + ".csv"))
  }

  @Test(.enabled(if: pythonHas("numpy"), "needs numpy"))
  func ownDataWithOffsetAndPreprocessingIsRecorded() throws {
    let directory = try makeTemporaryDirectory("own-data")
    // Test images 0…59 as uint8 0…255 in an .npz, and as Fashion-MNIST's own [0, 1] floats.
    let script = """
      import gzip, sys, numpy as np
      read = lambda p, o: np.frombuffer(gzip.open(p).read(), np.uint8, offset=o)
      x = read('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz', 16).reshape(-1, 28, 28)[:60]
      y = read('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz', 8)[:60]
      np.savez_compressed(sys.argv[1], x=x, y=np.eye(10)[y])
      """
    let data = directory.appendingPathComponent("bytes.npz").path
    let made = try runProcess("/usr/bin/env", ["python3", "-c", script, data])
    #expect(made.status == 0, "\(made.output)")
    let network = directory.appendingPathComponent("mlp.snn.h5").path
    #expect(
      try runTool("snnconv", ["convert", "models/mlp.h5", "--calibration", "50", "-o", network]).status == 0)
    func run(_ arguments: [String], _ name: String) throws -> [String: Any] {
      let path = directory.appendingPathComponent(name).path
      let result = try runTool(
        "snnsim",
        ["run", network, "--timesteps", "4,16", "--offset", "20", "--limit", "40", "--results", path]
          + arguments)
      #expect(result.status == 0, "\(result.stderr)")
      return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        as! [String: Any]
    }
    let own = try run(["--data", data, "--scale", String(1.0 / 255)], "own.json")
    let builtIn = try run([], "builtin.json")
    #expect((own["accuracy"] as! [Double]) == (builtIn["accuracy"] as! [Double]))
    #expect((own["ann_accuracy"] as! Double) == (builtIn["ann_accuracy"] as! Double))
    let settings = own["settings"] as! [String: Any]
    #expect(settings["offset"] as? Int == 20 && settings["limit"] as? Int == 40)
    // (Foundation's JSON parser may land a unit in the last place away from the written value.)
    let scale = (settings["preprocessing"] as? [String: Any])?["scale"] as? Double ?? 0
    #expect(abs(scale - 1.0 / 255) < 1e-15)
    #expect((builtIn["settings"] as! [String: Any])["preprocessing"] == nil)
    #expect(own["images"] as? Int == 40)
  }

  @Test(.enabled(if: pythonHas("numpy"), "needs numpy"))
  func calibrationReadsFromTheOffset() throws {
    let directory = try makeTemporaryDirectory("calibration-offset")
    // Training images 100…149 as uint8 in an .npz: calibrating on them (scaled by 1/255) must
    // give the scales that calibrating on Fashion-MNIST from --offset 100 gives.
    let script = """
      import gzip, sys, numpy as np
      read = lambda p, o: np.frombuffer(gzip.open(p).read(), np.uint8, offset=o)
      x = read('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz', 16).reshape(-1, 28, 28)
      y = read('/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz', 8)
      np.savez(sys.argv[1], x=x[100:150], y=y[100:150])
      """
    let data = directory.appendingPathComponent("part.npz").path
    let made = try runProcess("/usr/bin/env", ["python3", "-c", script, data])
    #expect(made.status == 0, "\(made.output)")
    var scales = [[Double]]()
    for (name, arguments) in [
      ("offset", ["--offset", "100"]), ("file", ["--data", data, "--scale", String(1.0 / 255)]),
      ("start", []),
    ] {
      let network = directory.appendingPathComponent("\(name).snn.h5").path
      let convert = try runTool(
        "snnconv", ["convert", "models/mlp.h5", "--calibration", "50", "-o", network] + arguments)
      #expect(convert.status == 0, "\(convert.stderr)")
      let inspect = try runTool("snnconv", ["inspect", network, "--json"])
      let rows = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as! [[String: Any]]
      scales.append(rows.map { $0["scale"] as! Double })
    }
    // (1/255 as a product rounds like the reader's division nearly always; max scales agree.)
    for (a, b) in zip(scales[0], scales[1]) { #expect(abs(a - b) <= 1e-6 * a, "\(scales)") }
    #expect(scales[0] != scales[2], "the offset changed nothing: \(scales)")
  }

  /// Runs `network` on the first 20 test images at T = 8, 64 and returns its results file.
  func runToolResults(_ network: String, _ directory: URL) throws -> String {
    let path = directory.appendingPathComponent("snn.json").path
    let run = try runTool(
      "snnsim", ["run", network, "--limit", "20", "--timesteps", "8,64", "--results", path])
    #expect(run.status == 0, "\(run.stderr)")
    return path
  }

  @Test func aNIRGraphThatCannotRunIsRefusedNamingTheNode() throws {
    let directory = try makeTemporaryDirectory("nir-bad")
    let path = directory.appendingPathComponent("bad.nir").path
    let script = """
      import sys, nir, numpy as np
      g = nir.NIRGraph(nodes={
          "in": nir.Input(input_type={"input": np.array([784])}),
          "fc": nir.Affine(weight=np.ones((10, 700), np.float32), bias=np.zeros(10, np.float32)),
          "out": nir.Output(output_type={"output": np.array([10])}),
      }, edges=[("in", "fc"), ("fc", "out")], type_check=False)
      nir.write(sys.argv[1], g)
      """
    guard pythonHas("nir", "numpy") else { return }
    let made = try runProcess("/usr/bin/env", ["python3", "-c", script, path])
    #expect(made.status == 0, "\(made.output)")
    let results = directory.appendingPathComponent("r.json").path
    let run = try runTool("snnsim", ["run", path, "--limit", "5", "--results", results])
    #expect(run.status != 0)
    #expect(
      run.stderr.contains("node 'fc': 'weight' 10×700 takes 700 inputs; the node's input is 784"),
      "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: results))
    let engine = try runTool("snnsim", ["run", path, "--engine", "event"])
    #expect(engine.status != 0 && engine.stderr.contains("apply to .snn.h5 networks"), "\(engine.stderr)")
  }

  /// A graph written for a step of 10⁻⁴, as snnTorch writes its Leaky neurons (τ = dt/(1 − β),
  /// r = τ/dt): inspect names the step its parameters imply, run warns naming the node when
  /// stepped with 1, and runs quietly with --dt 1e-4 or with the step stated in its metadata.
  @Test(.enabled(if: pythonHas("nir", "numpy"), "needs python3 with nir and numpy"))
  func aGraphWrittenForAnotherStepRunsWithDt() throws {
    let directory = try makeTemporaryDirectory("nir-dt")
    let script = """
      import sys, nir, numpy as np
      def graph(metadata):
          return nir.NIRGraph(nodes={
              "in": nir.Input(input_type={"input": np.array([784])}),
              "fc": nir.Affine(weight=np.full((10, 784), 0.01, np.float32), bias=np.zeros(10, np.float32)),
              "lif": nir.LIF(tau=np.full(10, 1e-3), r=np.full(10, 10.0), v_leak=np.zeros(10),
                             v_threshold=np.ones(10)),
              "out": nir.Output(output_type={"output": np.array([10])}),
          }, edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")], metadata=metadata)
      nir.write(sys.argv[1], graph({}))
      nir.write(sys.argv[2], graph({"dt": 1e-4}))
      """
    let plain = directory.appendingPathComponent("plain.nir").path
    let stated = directory.appendingPathComponent("stated.nir").path
    let made = try runProcess("/usr/bin/env", ["python3", "-c", script, plain, stated])
    try #require(made.status == 0, "\(made.output)")
    let inspect = try runTool("snnconv", ["inspect", plain])
    #expect(inspect.stdout.contains("implies dt = 0.0001: run with --dt 0.0001"), "\(inspect.stdout)")
    let coarse = try runTool("snnsim", ["run", plain, "--limit", "10", "--timesteps", "8"])
    #expect(
      coarse.status == 0 && coarse.stderr.contains("node 'lif' (LIF): dt/τ = 1000 > 1"), "\(coarse.stderr)")
    var readouts = [[[Double]]]()
    for (path, arguments) in [(plain, ["--dt", "1e-4"]), (stated, [])] {
      let outputs = directory.appendingPathComponent("out-\(readouts.count).csv").path
      let run = try runTool(
        "snnsim", ["run", path, "--limit", "10", "--timesteps", "8", "--outputs", outputs] + arguments)
      #expect(run.status == 0 && !run.stderr.contains("warning"), "\(run.stderr)")
      #expect(run.stdout.contains("dt 0.0001"), "\(run.stdout)")
      readouts.append(try readOutputs(outputs).1)
    }
    #expect(readouts[0] == readouts[1] && readouts[0] != [])
    let negative = try runTool("snnsim", ["run", plain, "--dt", "0"])
    #expect(
      negative.status != 0 && negative.stderr.contains("--dt must be a positive number"), "\(negative.stderr)"
    )
  }

  @Test(arguments: [
    (
      ["--dynamics", "signgd", "--reset", "zero"],
      "--reset applies only to --dynamics if, burst"
    ),
    (["--dynamics", "if", "--eta0", "0.3"], "do not apply to --dynamics if"),
    (["--dynamics", "if", "--leak", "0.5"], "--leak must be 1…1e+09 or none, got '0.5'"),
    (["--dynamics", "if", "--initial-membrane", "2"], "--initial-membrane must be a number in [0.0, 1.0]"),
    (["--dynamics", "if", "--fuse"], "fused composite layers have no membrane"),
    (["--dynamics", "if", "--neuron", "colour=red"], "--neuron takes NAME=VALUE with NAME one of"),
    (["--dynamics", "burst", "--neuron", "bits=4"], "--neuron bits must be 1…3, got '4'"),
    (["--dynamics", "burst", "--neuron", "bits=1.5"], "--neuron bits must be 1…3, got '1.5'"),
    (["--dynamics", "if", "--neuron", "bits=2"], "--neuron bits applies only to --dynamics burst"),
    (["--dynamics", "if", "--leak", "4", "--neuron", "leak=8"], "leak is given twice"),
    (["--dynamics", "if", "--neuron", "leak=0.5"], "--neuron leak must be 1…1e+09 or none, got '0.5'"),
  ])
  func membraneOptionsAreChecked(arguments: [String], expected: String) throws {
    let out = try makeTemporaryDirectory("membrane-flags").appendingPathComponent("x.snn.h5").path
    let result = try runTool(
      "snnconv", ["convert", "models/keras_fashion_mlp.h5", "--calibration", "50", "-o", out] + arguments)
    #expect(result.status != 0)
    #expect(result.stderr.contains(expected), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
  }

  @Test func membraneConversionOfGELUNamesTheLayer() throws {
    let out = try makeTemporaryDirectory("membrane-gelu").appendingPathComponent("x.snn.h5").path
    let result = try runTool(
      "snnconv", ["convert", "models/mlp-gelu.h5", "--dynamics", "if", "--calibration", "50", "-o", out])
    #expect(result.status != 0)
    #expect(result.stderr.contains("'gelu_1' (Activation(gelu)) has no if neuron"), "\(result.stderr)")
  }

  @Test func convertRefusesANetworkWithoutAnInput() throws {
    let out = try makeTemporaryDirectory("refuse").appendingPathComponent("x.snn.h5").path
    let result = try runTool(
      "snnconv", ["convert", "Tests/ModelIOTests/Fixtures/keras3_tiny.keras", "-o", out])
    #expect(result.status != 0)
    #expect(result.stderr.contains("zip archive"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
  }
}
