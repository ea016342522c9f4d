import Foundation
import TestSupport
import Testing

/// A corpus of malformed, hostile and mistaken inputs run through the tools as a user would run
/// them. Every case must end with an exit status in 1…127 (no signal), one message naming the
/// file or flag at fault, nothing written to the output directory (no result, no temporary
/// file), and the inputs unchanged.
@Suite(.needsFashionMNIST) struct HostileInputTests {
  /// The bad files, made once: `W` in a case's arguments stands for this directory, `O` for the
  /// case's own, empty, output directory.
  static let madeWorkshop = Result { () throws -> String in
    let directory = try makeTemporaryDirectory("hostile").path
    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
    func write(_ name: String, _ bytes: [UInt8]) {
      _ = FileManager.default.createFile(atPath: path(name), contents: Data(bytes))
    }
    func write(_ name: String, _ text: String) { write(name, Array(text.utf8)) }
    let model = Array(try Data(contentsOf: repositoryRoot.appendingPathComponent("models/mlp.h5")))
    mkfifo(path("fifo.h5"), 0o600)
    mkfifo(path("fifo.onnx"), 0o600)
    try FileManager.default.createDirectory(atPath: path("directory.h5"), withIntermediateDirectories: false)
    write("empty.h5", [])
    write("text.h5", "this is not HDF5\n")
    write("text.onnx", "this is not a protocol buffer\n")
    write("truncated.h5", Array(model.prefix(model.count / 2)))
    write("header-only.h5", Array(model.prefix(512)))
    write("victim.h5", model)
    // A valid spiking network, and damaged copies of it.
    let network = path("mlp.snn.h5")
    let convert = try runTool(
      "snnconv", ["convert", "models/mlp.h5", "--calibration", "50", "-o", network])
    guard convert.status == 0 else { throw WorkshopError(convert.stderr) }
    let snn = Array(try Data(contentsOf: URL(fileURLWithPath: network)))
    write("truncated.snn.h5", Array(snn.prefix(snn.count * 2 / 3)))
    // A membrane network exported as NIR, and a damaged copy.
    let membrane = path("mlp-if.snn.h5")
    let converted = try runTool(
      "snnconv", ["convert", "models/mlp.h5", "--dynamics", "if", "--calibration", "50", "-o", membrane])
    guard converted.status == 0 else { throw WorkshopError(converted.stderr) }
    let exported = try runTool("snnconv", ["export", membrane, "-o", path("mlp.nir")])
    guard exported.status == 0 else { throw WorkshopError(exported.stderr) }
    let nir = Array(try Data(contentsOf: URL(fileURLWithPath: path("mlp.nir"))))
    write("truncated.nir", Array(nir.prefix(nir.count * 2 / 3)))
    // Model descriptions for snntrain fit.
    write("garbage.json", "{\"name\": ")
    write("no-layers.json", #"{"name": "x", "input": [28, 28, 1], "layers": []}"#)
    write(
      "huge-dense.json",
      #"{"name": "x", "input": [28, 28, 1], "layers": [{"type": "flatten"}, {"type": "dense", "units": 1000000000000}]}"#
    )
    write(
      "huge-conv.json",
      #"{"name": "x", "input": [28, 28, 1], "layers": [{"type": "conv2d", "filters": 1000000000, "kernel": 3}]}"#
    )
    write(
      "negative-kernel.json",
      #"{"name": "x", "input": [28, 28, 1], "layers": [{"type": "conv2d", "filters": 4, "kernel": -3}]}"#)
    write(
      "huge-input.json",
      #"{"name": "x", "input": [4294967296, 4294967296, 1], "layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]}"#
    )
    write(
      "not-a-classifier.json",
      #"{"name": "x", "input": [28, 28, 1], "layers": [{"type": "conv2d", "filters": 4, "kernel": 3}]}"#)
    // IDX folders: named pipes, a bad magic number, a truncated file, a gzip bomb.
    let labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    for (folder, images) in [
      ("idx-magic", [0, 0, 8, 1] + [UInt8](repeating: 0, count: 12)),
      (
        "idx-truncated",
        [0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28] + [UInt8](repeating: 7, count: 100)
      ),
      ("idx-huge-claim", [0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]),
    ] as [(String, [UInt8])] {
      try FileManager.default.createDirectory(atPath: path(folder), withIntermediateDirectories: false)
      write("\(folder)/t10k-images-idx3-ubyte", images)
      try FileManager.default.copyItem(atPath: labels, toPath: path("\(folder)/t10k-labels-idx1-ubyte.gz"))
    }
    try FileManager.default.createDirectory(atPath: path("idx-fifo"), withIntermediateDirectories: false)
    mkfifo(path("idx-fifo/t10k-images-idx3-ubyte"), 0o600)
    try FileManager.default.copyItem(atPath: labels, toPath: path("idx-fifo/t10k-labels-idx1-ubyte.gz"))
    try FileManager.default.createDirectory(atPath: path("idx-bomb"), withIntermediateDirectories: false)
    let bomb = try runProcess(
      "python3",
      [
        "-c",
        "import gzip, struct, sys\nwith gzip.open(sys.argv[1], 'wb') as f:\n    f.write(struct.pack('>IIII', 0x803, 10, 28, 28))\n    f.write(bytes(64 << 20))",
        path("idx-bomb/t10k-images-idx3-ubyte.gz"),
      ])
    guard bomb.status == 0 else { throw WorkshopError(bomb.output) }
    try FileManager.default.copyItem(atPath: labels, toPath: path("idx-bomb/t10k-labels-idx1-ubyte.gz"))
    // Well-formed data the networks cannot use: no images, or labels beyond their ten classes.
    func idx(_ folder: String, images: Int, label: UInt8) throws {
      try FileManager.default.createDirectory(atPath: path(folder), withIntermediateDirectories: false)
      func header(_ magic: UInt32, _ dimensions: [Int]) -> [UInt8] {
        ([magic] + dimensions.map(UInt32.init)).flatMap { value in
          (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
      }
      for split in ["t10k", "train"] {
        write(
          "\(folder)/\(split)-images-idx3-ubyte",
          header(0x803, [images, 28, 28]) + [UInt8](repeating: 9, count: images * 784))
        write(
          "\(folder)/\(split)-labels-idx1-ubyte",
          header(0x801, [images]) + [UInt8](repeating: label, count: images))
      }
    }
    try idx("idx-empty", images: 0, label: 0)
    try idx("idx-label-200", images: 20, label: 200)
    // Run records for snnsim report: JSON of the right form with values no run could have.
    let run = try runTool(
      "snnsim", ["run", network, "--limit", "10", "--timesteps", "2,4", "--results", path("run.json")])
    guard run.status == 0 else { throw WorkshopError(run.stderr) }
    let record = try String(contentsOfFile: path("run.json"), encoding: .utf8)
    for (name, from, to) in [
      ("decreasing", "\"timesteps\" : [\n    2,\n    4\n  ]", "\"timesteps\" : [4, 2]"),
      ("zero-t", "\"timesteps\" : [\n    2,\n    4\n  ]", "\"timesteps\" : [0, 4]"),
      ("no-t", "\"timesteps\" : [\n    2,\n    4\n  ]", "\"timesteps\" : []"),
      ("unequal", "\"timesteps\" : [\n    2,\n    4\n  ]", "\"timesteps\" : [2, 4, 8]"),
      ("overflow", "\"images\" : 10", "\"images\" : 1e999"),
      ("no-images", "\"images\" : 10", "\"images\" : 0"),
    ] {
      guard record.contains(from) else { throw WorkshopError("run.json has no \(from)") }
      write("run-\(name).json", record.replacingOccurrences(of: from, with: to))
    }
    return directory
  }

  /// The workshop's directory; making it fails the cases that need it instead of the whole run.
  static var workshop: String { get throws { try madeWorkshop.get() } }

  struct WorkshopError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }

  static let cases: [(tool: String, arguments: [String], expected: String)] = [
    // Files that are not what they claim, for every reader.
    ("snnconv", ["inspect", "W/fifo.h5"], "W/fifo.h5': not a regular file (a named pipe)"),
    ("snnconv", ["inspect", "W/directory.h5"], "W/directory.h5': not a regular file (a directory)"),
    ("snnconv", ["inspect", "W/empty.h5"], "W/empty.h5': not an HDF5 file"),
    ("snnconv", ["inspect", "W/text.h5"], "W/text.h5': not an HDF5 file"),
    ("snnconv", ["inspect", "W/truncated.h5"], "W/truncated.h5"),
    ("snnconv", ["inspect", "W/header-only.h5"], "W/header-only.h5"),
    ("snnconv", ["eval", "W/truncated.h5", "--limit", "5"], "W/truncated.h5"),
    ("snnconv", ["convert", "W/fifo.h5", "-o", "O/out.snn.h5"], "not a regular file (a named pipe)"),
    ("snnconv", ["convert", "W/truncated.h5", "-o", "O/out.snn.h5"], "W/truncated.h5"),
    ("snnconv", ["convert", "W/mlp.snn.h5", "-o", "O/out.snn.h5"], "W/mlp.snn.h5"),
    ("snnsim", ["run", "W/fifo.h5"], "not a regular file (a named pipe)"),
    ("snnsim", ["run", "W/truncated.nir", "--limit", "5", "--results", "O/r.json"], "W/truncated.nir"),
    ("snnconv", ["inspect", "W/truncated.nir"], "W/truncated.nir"),
    ("snnsim", ["run", "W/mlp.nir", "--results", "W/mlp.nir"], "it is also an input"),
    ("snnsim", ["run", "W/mlp.nir", "--engine", "event", "--limit", "5"], "apply to .snn.h5 networks"),
    ("snnsim", ["run", "W/mlp.nir", "--dt", "nan", "--limit", "5"], "--dt must be a positive number"),
    ("snnsim", ["run", "W/mlp.nir", "--dt", "inf", "--limit", "5"], "--dt must be a positive number"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--dt", "0.001", "--limit", "5"], "--dt applies to NIR graphs"),
    ("snnsim", ["run", "W/truncated.snn.h5", "--limit", "5"], "W/truncated.snn.h5"),
    ("snnsim", ["run", "W/empty.h5"], "W/empty.h5': not an HDF5 file"),
    ("snnsim", ["run", "models/mlp.h5"], "not a snnkit.snn file"),
    ("snnsim", ["report", "W/garbage.json", "-o", "O/report"], "W/garbage.json"),
    ("snnsim", ["report", "W/fifo.h5", "-o", "O/report"], "not a regular file (a named pipe)"),
    ("snnsim", ["report", "W/run-decreasing.json", "-o", "O/report"], "not strictly increasing (4 then 2)"),
    ("snnsim", ["report", "W/run.json", "W/run-zero-t.json", "-o", "O/report"], "'timesteps' starts at 0"),
    ("snnsim", ["report", "W/run-no-t.json", "-o", "O/report"], "W/run-no-t.json: not a run"),
    (
      "snnsim", ["report", "W/run-unequal.json", "-o", "O/report"], "'accuracy' has 2 values for 3 time steps"
    ),
    ("snnsim", ["report", "W/run-overflow.json", "-o", "O/report"], "W/run-overflow.json"),
    ("snnsim", ["report", "W/run-no-images.json", "-o", "O/report"], "'images' is 0"),
    (
      "snnsim", ["report", "Tests/ReportsTests/Fixtures/run-format0.json", "-o", "O/report"],
      "a run record of format 0"
    ),
    ("snntrain", ["fit", "--model", "W/garbage.json", "-o", "O/m.h5"], "W/garbage.json"),
    ("snntrain", ["fit", "--model", "W/fifo.h5", "-o", "O/m.h5"], "not a regular file (a named pipe)"),
    ("snntrain", ["fit", "--model", "W/truncated.h5", "-o", "O/m.h5"], "W/truncated.h5"),
    // Data folders.
    ("snnconv", ["eval", "models/mlp.h5", "--data", "W/idx-fifo"], "not a regular file (a named pipe)"),
    ("snnconv", ["eval", "models/mlp.h5", "--data", "W/idx-magic"], "is not the expected IDX file"),
    ("snnconv", ["eval", "models/mlp.h5", "--data", "W/idx-truncated"], "is truncated"),
    ("snnconv", ["eval", "models/mlp.h5", "--data", "W/idx-huge-claim"], "more than the 2147483648"),
    ("snnconv", ["eval", "models/mlp.h5", "--data", "W/idx-bomb"], "has trailing data"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--data", "W/idx-bomb"], "has trailing data"),
    ("snnconv", ["eval", "models/mlp.h5", "--data", "W/nowhere"], "unknown data source"),
    (
      "snnconv", ["eval", "models/mlp.h5", "--data", "W/idx-empty"],
      "idx-empty/t10k-images-idx3-ubyte' holds no images"
    ),
    ("snnsim", ["run", "W/mlp.snn.h5", "--data", "W/idx-empty"], "holds no images"),
    ("snnconv", ["convert", "models/mlp.h5", "--data", "W/idx-empty", "-o", "O/n.snn.h5"], "W/idx-empty"),
    (
      "snnconv", ["eval", "models/mlp.h5", "--data", "W/idx-label-200"],
      "label 200 of image 0 names no output of 'mlp'"
    ),
    ("snnsim", ["run", "W/mlp.snn.h5", "--data", "W/idx-label-200"], "label 200 of image 0 names no output"),
    (
      "snnsim", ["compare", "models/mlp.h5", "--data", "W/idx-label-200", "-o", "O/c"], "label 200 of image 0"
    ),
    ("snntrain", ["fit", "--data", "W/idx-empty", "--epochs", "1", "-o", "O/m.h5"], "holds no images"),
    // Flags: every numeric one, out of range, NaN, infinite, absurd.
    ("snntrain", ["fit", "--epochs=-1", "-o", "O/m.h5"], "--epochs must be in 1…"),
    ("snntrain", ["fit", "--batch-size", "0", "-o", "O/m.h5"], "--batch-size must be in 1…"),
    ("snntrain", ["fit", "--lr", "nan", "-o", "O/m.h5"], "--lr must be a number in (0.0, "),
    ("snntrain", ["fit", "--lr", "inf", "-o", "O/m.h5"], "--lr must be a number in (0.0, "),
    ("snntrain", ["fit", "--lr", "0", "-o", "O/m.h5"], "--lr must be a number in (0.0, "),
    (
      "snntrain", ["fit", "--optimizer", "momentum", "--momentum=-0.5", "-o", "O/m.h5"], "--momentum must be"
    ),
    (
      "snntrain", ["fit", "--optimizer", "momentum", "--momentum", "1", "-o", "O/m.h5"], "--momentum must be"
    ),
    ("snntrain", ["fit", "--momentum", "0.5", "-o", "O/m.h5"], "--momentum applies to --optimizer momentum"),
    ("snntrain", ["fit", "--weight-decay=-1", "-o", "O/m.h5"], "--weight-decay must be"),
    ("snntrain", ["fit", "--weight-decay", "nan", "-o", "O/m.h5"], "--weight-decay must be"),
    (
      "snntrain", ["fit", "--schedule", "step", "--step-epochs", "0", "-o", "O/m.h5"], "--step-epochs must be"
    ),
    (
      "snntrain", ["fit", "--schedule", "step", "--step-factor", "0", "-o", "O/m.h5"], "--step-factor must be"
    ),
    (
      "snntrain", ["fit", "--schedule", "step", "--step-factor", "inf", "-o", "O/m.h5"],
      "--step-factor must be"
    ),
    ("snntrain", ["fit", "--step-factor", "0.5", "-o", "O/m.h5"], "apply to --schedule step only"),
    ("snntrain", ["fit", "--test-limit=-3", "-o", "O/m.h5"], "--test-limit must be"),
    ("snntrain", ["fit", "--limit", "0", "-o", "O/m.h5"], "--limit must be"),
    ("snntrain", ["fit", "--threads", "0", "-o", "O/m.h5"], "--threads must be"),
    ("snntrain", ["fit", "--relu-prime", "inf", "-o", "O/m.h5"], "--relu-prime must be a finite number"),
    ("snntrain", ["fit", "--seed", "-1", "-o", "O/m.h5"], "--seed"),
    ("snntrain", ["bifurcation", "--limit", "0"], "--limit must be"),
    ("snntrain", ["bifurcation", "--runs", "0"], "--runs must be"),
    ("snntrain", ["bifurcation", "--lr=-1"], "--lr must be"),
    (
      "snnconv", ["convert", "models/mlp.h5", "--eta0", "0", "-o", "O/n.snn.h5"],
      "--eta0 must be a number in (0.0, 1.0]"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--eta0", "nan", "-o", "O/n.snn.h5"],
      "--eta0 must be a number in (0.0, 1.0]"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--eta0", "2", "-o", "O/n.snn.h5"],
      "--eta0 must be a number in (0.0, 1.0]"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--gamma", "1.5", "-o", "O/n.snn.h5"],
      "--gamma must be a number in (0.0, 1.0]"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--gamma=-inf", "-o", "O/n.snn.h5"],
      "--gamma must be a number in (0.0, 1.0]"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--schedule", "inverse", "--gamma", "0.9", "-o", "O/n.snn.h5"],
      "do not apply to --schedule inverse"
    ),
    (
      "snnconv",
      ["convert", "models/mlp.h5", "--schedule", "constant", "--gamma", "0.9", "-o", "O/n.snn.h5"],
      "--gamma does not apply to --schedule constant"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--calibration", "0", "-o", "O/n.snn.h5"],
      "--calibration must be in 1…"
    ),
    ("snnconv", ["convert", "models/mlp.h5", "--calibration=-5", "-o", "O/n.snn.h5"], "--calibration"),
    ("snnconv", ["convert", "models/mlp.h5", "--normalize", "p101", "-o", "O/n.snn.h5"], "--normalize"),
    ("snnconv", ["convert", "models/mlp.h5", "--dynamics", "lif", "-o", "O/n.snn.h5"], "lif"),
    (
      "snnconv", ["convert", "models/mlp.h5", "--target-timesteps", "0", "-o", "O/n.snn.h5"],
      "--target-timesteps must be in 1…"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--target-timesteps", "99999999", "-o", "O/n.snn.h5"],
      "--target-timesteps must be in 1…"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--tuning-images", "64", "-o", "O/n.snn.h5"],
      "--tuning-images applies only with --target-timesteps"
    ),
    (
      "snnconv", ["convert", "models/mlp.h5", "--no-input-correction", "-o", "O/n.snn.h5"],
      "--no-input-correction applies only with --target-timesteps"
    ),
    (
      "snnconv",
      ["convert", "models/mlp.h5", "--target-timesteps", "8", "--tuning-images", "0", "-o", "O/n.snn.h5"],
      "--tuning-images must be in 1…"
    ),
    ("snnconv", ["eval", "models/mlp.h5", "--limit=-1"], "--limit must be a positive number"),
    ("snnconv", ["eval", "models/mlp.h5", "--batch-size", "0"], "--batch-size"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--timesteps", "9223372036854775807"], "integers in 1…1048576"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--timesteps", "4,2"], "strictly increasing"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--timesteps", "nan"], "--timesteps"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--timesteps", ""], "--timesteps"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--batch-size", "0"], "--batch-size must be in 1…"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--batch-size", "99999999999"], "--batch-size must be in 1…"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--threads", "0"], "--threads must be in 1…"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--threads", "100000"], "--threads must be in 1…"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--limit", "0"], "--limit must be a positive number"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--engine", "quantum"], "quantum"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--raster-image=-1"], "--raster-image must be in 0…"),
    (
      "snnsim", ["run", "W/mlp.snn.h5", "--limit", "5", "--raster-image", "5"],
      "--raster-image 5 is not among the 5 images simulated (0…4)"
    ),
    ("snnsim", ["run", "W/mlp.snn.h5", "--split", "validation"], "validation"),
    // Outputs: checked before any work, never over an input.
    ("snnconv", ["convert", "W/victim.h5", "-o", "W/victim.h5"], "it is also an input ('W/victim.h5')"),
    ("snnconv", ["eval", "W/victim.h5", "--limit", "5", "--outputs", "W/victim.h5"], "it is also an input"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--results", "W/mlp.snn.h5"], "it is also an input"),
    ("snntrain", ["fit", "--model", "W/victim.h5", "-o", "W/victim.h5"], "it is also an input"),
    ("snnconv", ["convert", "models/mlp.h5", "-o", "O/missing/n.snn.h5"], "does not exist"),
    ("snnconv", ["convert", "models/mlp.h5", "-o", "O"], "it is a directory"),
    ("snnsim", ["run", "W/mlp.snn.h5", "--results", "O/missing/run.json"], "does not exist"),
    ("snnsim", ["report", "W/garbage.json", "-o", "W/mlp.snn.h5"], "exists and is not a directory"),
    ("snnsim", ["compare", "models/mlp.h5", "-o", "W/mlp.snn.h5"], "exists and is not a directory"),
    ("snntrain", ["bifurcation", "--json", "O/missing/b.json"], "does not exist"),
    // ONNX models (Tests/ModelIOTests/Fixtures/onnx, written by tools/make_onnx_fixtures.py).
    (
      "snnconv", ["inspect", "Tests/ModelIOTests/Fixtures/onnx/bad-truncated.onnx"],
      "not a readable ONNX model"
    ),
    (
      "snnconv", ["eval", "Tests/ModelIOTests/Fixtures/onnx/bad-huge-length.onnx"],
      "not a readable ONNX model"
    ),
    (
      "snnconv", ["convert", "Tests/ModelIOTests/Fixtures/onnx/bad-order.onnx", "-o", "O/out.snn.h5"],
      "which no earlier node produces"
    ),
    (
      "snnconv", ["convert", "Tests/ModelIOTests/Fixtures/onnx/bad-dims.onnx", "-o", "O/out.snn.h5"],
      "its dims"
    ),
    (
      "snnsim", ["compare", "Tests/ModelIOTests/Fixtures/onnx/bad-op.onnx", "-o", "O/ab"], "(Selu, opset 13)"
    ),
    (
      "snnconv", ["eval", "Tests/ModelIOTests/Fixtures/onnx/bad-external.onnx"],
      "external data file cannot be read"
    ),
    (
      "snnconv", ["eval", "Tests/ModelIOTests/Fixtures/onnx/bad-external-location.onnx"],
      "must be a file beside the model"
    ),
    ("snnconv", ["inspect", "W/text.onnx"], "W/text.onnx: not"),
    ("snnconv", ["inspect", "W/fifo.onnx"], "not a regular file (a named pipe)"),
    // Model descriptions.
    ("snntrain", ["fit", "--model", "W/no-layers.json", "-o", "O/m.h5"], "W/no-layers.json"),
    ("snntrain", ["fit", "--model", "W/huge-dense.json", "-o", "O/m.h5"], "W/huge-dense.json"),
    ("snntrain", ["fit", "--model", "W/huge-conv.json", "-o", "O/m.h5"], "W/huge-conv.json"),
    ("snntrain", ["fit", "--model", "W/negative-kernel.json", "-o", "O/m.h5"], "W/negative-kernel.json"),
    ("snntrain", ["fit", "--model", "W/huge-input.json", "-o", "O/m.h5"], "W/huge-input.json"),
    ("snntrain", ["fit", "--model", "W/not-a-classifier.json", "-o", "O/m.h5"], "W/not-a-classifier.json"),
  ]

  @Test(arguments: cases.indices)
  func failsCleanly(index: Int) throws {
    let (tool, template, expected) = Self.cases[index]
    let workshop = try Self.workshop
    let output = try makeTemporaryDirectory("hostile-out").path
    func expand(_ text: String) -> String {
      if text == "W" || text.hasPrefix("W/") { return workshop + text.dropFirst() }
      if text == "O" || text.hasPrefix("O/") { return output + text.dropFirst() }
      return text
    }
    let arguments = template.map(expand)
    let before = try Self.fingerprint(workshop)
    let outcome = try runToolOutcome(tool, arguments)
    let command = "\(tool) \(template.joined(separator: " "))"
    #expect(!outcome.signaled, "\(command): killed by signal \(outcome.status)\n\(outcome.stderr)")
    #expect((1..<128).contains(outcome.status), "\(command): exit \(outcome.status)")
    let message = outcome.stderr.replacingOccurrences(of: workshop, with: "W")
    #expect(message.contains(expected), "\(command): \(message)")
    #expect(!message.contains("Fatal error"), "\(command): \(message)")
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: output).isEmpty, "\(command) left files behind")
    #expect(try Self.fingerprint(workshop) == before, "\(command) changed its inputs")
  }

  /// Name, size and modification time of every entry under `directory`.
  static func fingerprint(_ directory: String) throws -> [String] {
    let manager = FileManager.default
    return try manager.subpathsOfDirectory(atPath: directory).sorted().map { name in
      let attributes = try manager.attributesOfItem(
        atPath: (directory as NSString).appendingPathComponent(name))
      return "\(name) \(attributes[.size] ?? 0) \(attributes[.modificationDate] ?? 0)"
    }
  }
}
