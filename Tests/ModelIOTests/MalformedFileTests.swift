import Foundation
import Graph
import HDF5
import ModelIO
import TestSupport
import Testing

/// Damaged copies of a real Keras 3 fixture: each must give one clear error naming the problem.
@Suite struct MalformedFileTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("malformed") }

  /// A writable copy of the Keras 3 MLP fixture (layers dense … dense_9, all with weights).
  func copy(_ fixture: String = "keras3_seq_mlp.h5", as name: String = "model.h5") throws -> String {
    let target = directory.appendingPathComponent(name).path
    try FileManager.default.copyItem(
      atPath: KerasFixtureTests.fixtures.appendingPathComponent(fixture).path, toPath: target)
    return target
  }

  func message(_ path: String) -> String {
    do {
      _ = try KerasModelReader.read(path)
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  func editConfig(_ path: String, _ edit: (String) -> String) throws {
    let root = try HDF5File.open(path, mode: .readWrite).root
    try root.writeAttribute("model_config", string: edit(try root.readString("model_config")))
  }

  @Test func missingModelConfig() throws {
    let path = try copy()
    try HDF5File.open(path, mode: .readWrite).root.deleteAttribute("model_config")
    #expect(message(path) == "\(path): not a Keras HDF5 model: no 'model_config' attribute at '/'")
  }

  @Test func badJSON() throws {
    let path = try copy()
    try editConfig(path) { String($0.dropLast(7)) }
    #expect(message(path) == "\(path): bad model_config: model_config is not valid JSON")
  }

  @Test func unsupportedLayerIsNamedWithTheSupportedList() throws {
    let path = try copy()
    try editConfig(path) {
      $0.replacingOccurrences(of: "\"class_name\": \"Dropout\"", with: "\"class_name\": \"UpSampling3D\"")
    }
    let text = message(path)
    #expect(
      text.hasPrefix(
        "\(path): layer 'dropout' has unsupported class UpSampling3D; supported: InputLayer, Dense"))
  }

  /// tf.keras's TFOpLambda layers are read for the functions listed; another, a shape that
  /// moves the batch, or a slice is refused naming the function and the layer.
  @Test(arguments: [
    ("\"function\": \"nn.relu6\"", "\"function\": \"math.cumsum\"", "tf.math.cumsum (read: tf."),
    (
      "\"shape\": [-1, 1, 1, 8]", "\"shape\": [8, 1, 1, -1]",
      "is not a constant shape that keeps the batch first"
    ),
    ("\"class_name\": \"TFOpLambda\"", "\"class_name\": \"SlicingOpLambda\"", "slicing a tensor is not read"),
  ])
  func unreadTensorFlowFunctionsAreNamed(from: String, to: String, expected: String) throws {
    let path = try copy("keras2_func_tfop.h5")
    try editConfig(path) { config in
      // The first occurrence only.
      guard let range = config.range(of: from) else { return config }
      return config.replacingCharacters(in: range, with: to)
    }
    let text = message(path)
    #expect(text.contains(expected) && text.contains("layer 'tf."), "\(text)")
  }

  @Test func unsupportedSettingIsNamed() throws {
    let path = try copy("keras3_seq_cnn.h5")
    try editConfig(path) {
      $0.replacingOccurrences(of: "\"padding\": \"same\"", with: "\"padding\": \"full\"")
    }
    #expect(message(path).contains("layer 'conv2d': padding = \"full\" is not supported"))
  }

  /// Settings of the newer layers that the reader cannot honour are refused by name.
  @Test(arguments: [
    (
      "keras3_func_seq.h5", "\"axis\": [-1]", "\"axis\": [1]",
      "layer 'norm': axis = [1] (only the last axis, or none"
    ),
    (
      "keras3_func_rgb.h5", "\"cropping\": [[1, 0], [0, 1]]", "\"cropping\": [[3, 3], [0, 1]]",
      "'crop' (Cropping2D): cropping [3, 3, 0, 1] leaves nothing of [6, 5, 6]"
    ),
    (
      "keras3_func_rgb.h5", "\"depth_multiplier\": 2, \"kernel_size\": [3, 3]",
      "\"depth_multiplier\": 3, \"kernel_size\": [3, 3]", "'depthwise'"
    ),
    ("keras3_func_seq.h5", "\"groups\": 2", "\"groups\": 4", "'grouped1d'"),
    (
      "keras3_func_seq.h5", "\"padding\": \"causal\"", "\"padding\": \"reflect\"",
      "layer 'causal': padding = \"reflect\" is not supported"
    ),
  ])
  func newerLayerSettingsAreRefusedByName(
    fixture: String, original: String, replacement: String, expected: String
  )
    throws
  {
    let path = try copy(fixture)
    var replaced = false
    try editConfig(path) {
      replaced = $0.contains(original)
      return $0.replacingOccurrences(of: original, with: replacement)
    }
    #expect(replaced, "\(original) not in \(fixture)'s config")
    let text = message(path)
    #expect(text.contains(expected), "\(text)")
  }

  /// PReLU's slopes may vary along the channels only (Keras's default on images varies them per
  /// pixel too): the reader says which setting to change.
  @Test func perPixelPReLUSlopesAreRefused() throws {
    let text = message(KerasFixtureTests.fixtures.appendingPathComponent("keras3_refused_prelu.h5").path)
    #expect(text.contains("layer 'prelu': shared_axes = null"), "\(text)")
    #expect(text.contains("share every axis but the last"), "\(text)")
  }

  @Test func weightOfTheWrongShape() throws {
    let path = try copy()
    let group = try HDF5File.open(path, mode: .readWrite).root.group("model_weights/dense")
    let name = try group.readStringAttribute("weight_names")[0]
    try group.writeDataset(name, values: [Float](repeating: 0, count: 6), shape: [2, 3])
    // Refused from the configuration alone (16 units), before the weight is read.
    #expect(
      message(path)
        == "\(path): layer 'dense': weight /model_weights/dense/\(name) has shape [2, 3], its configuration needs [?, 16]"
    )
  }

  @Test func weightWithTheWrongInputWidth() throws {
    let path = try copy()
    let group = try HDF5File.open(path, mode: .readWrite).root.group("model_weights/dense")
    let name = try group.readStringAttribute("weight_names")[0]
    try group.writeDataset(name, values: [Float](repeating: 0, count: 32), shape: [2, 16])
    // The input's width is known once the graph is built.
    #expect(message(path) == "\(path): 'dense': parameter 'kernel' has shape [2, 16], expected [12, 16]")
  }

  @Test(.enabled(if: pythonHas("h5py"))) func weightClaimingAnAbsurdShapeIsRefusedBeforeReading() throws {
    let path = try copy()
    let name = try HDF5File.open(path).root.group("model_weights/dense").readStringAttribute("weight_names")[
      0]
    // A dataset whose dataspace claims 2⁴⁰ × 16 elements, made without its data (HDF5
    // allocates storage lazily), as a damaged or hostile file would.
    let script = """
      import h5py, sys
      with h5py.File(sys.argv[1], "r+") as f:
          g = f["model_weights/dense"]
          del g[sys.argv[2]]
          g.create_dataset(sys.argv[2], shape=(2**40, 16), dtype="f4")
      """
    #expect(try runProcess("python3", ["-c", script, path, name]).status == 0)
    #expect(
      message(path)
        == "\(path): '/model_weights/dense/\(name)' claims 1099511627776×16 elements, more than the 268435456 this toolkit reads"
    )
  }

  @Test func extraWeightIsRefusedAsKerasRefusesIt() throws {
    let path = try copy()
    let group = try HDF5File.open(path, mode: .readWrite).root.group("model_weights/dense")
    let names = try group.readStringAttribute("weight_names")
    try group.writeAttribute("weight_names", strings: names + ["mlp/dense/extra"])
    #expect(message(path).contains("layer 'dense' stores 3 weights"))
  }

  @Test func missingWeightDataset() throws {
    let path = try copy()
    let group = try HDF5File.open(path, mode: .readWrite).root.group("model_weights/dense")
    try group.writeAttribute("weight_names", strings: ["mlp/dense/kernel", "mlp/dense/nothing_here"])
    #expect(
      message(path)
        == "\(path): layer 'dense' is missing its 'bias' weight (looked for /model_weights/dense/mlp/dense/nothing_here)"
    )
  }

  @Test func nonFiniteWeights() throws {
    let path = try copy()
    let group = try HDF5File.open(path, mode: .readWrite).root.group("model_weights/dense")
    let name = try group.readStringAttribute("weight_names")[1]
    var bias = [Float](repeating: 0, count: 16)
    bias[5] = .nan
    try group.writeDataset(name, values: bias, shape: [16])
    #expect(
      message(path) == "\(path): 'dense': parameter 'bias' holds a non-finite value (NaN or ∞) at index 5")
  }

  @Test func kerasArchiveGivenAsH5() throws {
    let path = try copy("keras3_tiny.keras", as: "tiny.h5")
    #expect(message(path).hasPrefix("\(path): this is a Keras 3 '.keras' zip archive, not an HDF5 model."))
  }

  @Test func notHDF5AtAllAndTruncated() throws {
    let text = directory.appendingPathComponent("text.h5").path
    try "hello".write(toFile: text, atomically: true, encoding: .utf8)
    #expect(message(text).contains("not an HDF5 file"))
    let path = try copy()
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: path))
    #expect(message(path).contains(path))
    #expect(message(path) != "no error")
  }

  /// Keras splits attributes over 64 KiB into `name0`, `name1`, …, and older h5py wrote
  /// fixed-length strings; both must read the same.
  @Test func splitAndFixedLengthAttributesRead() throws {
    let path = try copy()
    let original = try KerasModelReader.read(path)
    do {
      let root = try HDF5File.open(path, mode: .readWrite).root
      try root.writeAttribute(
        "model_config", string: try root.readString("model_config"), encoding: .fixedASCII)
      let group = try root.group("model_weights/dense")
      let names = try group.readStringAttribute("weight_names")
      try group.deleteAttribute("weight_names")
      try group.writeAttribute("weight_names0", strings: [names[0]], encoding: .fixedASCII)
      try group.writeAttribute("weight_names1", strings: [names[1]], encoding: .variableASCII)
    }
    #expect(try KerasModelReader.read(path) == original)
  }
}
