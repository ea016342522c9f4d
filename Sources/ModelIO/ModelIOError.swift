import Graph
import HDF5

/// Why a model file could not be read or written. Each case names the file and, where it
/// applies, the layer and the HDF5 path.
public enum ModelIOError: Error, Equatable, Sendable {
  /// The file is a Keras 3 `.keras` zip archive, not an HDF5 model.
  case kerasArchive(file: String)
  /// The file is HDF5 but not a whole Keras model (no `model_config`).
  case notAKerasModel(file: String, reason: String)
  /// `model_config` is not valid JSON or lacks what every Keras model config has.
  case badConfig(file: String, detail: String)
  case unsupportedLayer(file: String, layer: String, className: String, supported: [String])
  /// A supported layer uses a setting the toolkit does not implement.
  case unsupportedSetting(file: String, layer: String, setting: String, value: String)
  case missingWeight(file: String, layer: String, weight: String, path: String)
  /// A stored weight's shape contradicts the layer's configuration (`nil` in `expected`: a
  /// dimension set by the layer's input, not yet known).
  case weightShape(file: String, layer: String, path: String, expected: [Int?], actual: [Int])
  /// The layer stores weights its configuration has no place for (Keras refuses such a file).
  case unexpectedWeights(file: String, layer: String, stored: [String], expected: [String])
  /// The layers read fine but do not form a valid network.
  case invalidGraph(file: String, error: GraphError)
  /// A NIR file whose layout is not a NIR graph's, or whose graph cannot be run (the text
  /// names the node and parameter).
  case nir(file: String, detail: String)
  /// An ONNX file that cannot be read or holds what the toolkit does not support (the text
  /// names the node, its op type and the model's opset).
  case onnx(file: String, detail: String)
  case hdf5(HDF5Error)
}

extension ModelIOError: CustomStringConvertible {
  public var description: String {
    switch self {
    case .kerasArchive(let file):
      return "\(file): this is a Keras 3 '.keras' zip archive, not an HDF5 model. In Python, load it and "
        + "save it as HDF5: keras.models.load_model('model.keras').save('model.h5')"
    case .notAKerasModel(let file, let reason):
      return "\(file): not a Keras HDF5 model: \(reason)"
    case .badConfig(let file, let detail):
      return "\(file): bad model_config: \(detail)"
    case .nir(let file, let detail), .onnx(let file, let detail):
      return "\(file): \(detail)"
    case .unsupportedLayer(let file, let layer, let className, let supported):
      return
        "\(file): layer '\(layer)' has unsupported class \(className); supported: \(supported.joined(separator: ", "))"
    case .unsupportedSetting(let file, let layer, let setting, let value):
      return "\(file): layer '\(layer)': \(setting) = \(value) is not supported"
    case .missingWeight(let file, let layer, let weight, let path):
      return "\(file): layer '\(layer)' is missing its '\(weight)' weight (looked for \(path))"
    case .weightShape(let file, let layer, let path, let expected, let actual):
      let pattern = "[" + expected.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
      return
        "\(file): layer '\(layer)': weight \(path) has shape \(actual), its configuration needs \(pattern)"
    case .unexpectedWeights(let file, let layer, let stored, let expected):
      return "\(file): layer '\(layer)' stores \(stored.count) weights (\(stored.joined(separator: ", "))), "
        + "its configuration has \(expected.count) (\(expected.joined(separator: ", ")))"
    case .invalidGraph(let file, let error):
      return "\(file): \(error)"
    case .hdf5(let error):
      return "\(error)"
    }
  }
}
