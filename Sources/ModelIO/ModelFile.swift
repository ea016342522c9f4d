import Graph

/// The trained-network formats the tools read, told apart by the file's extension.
public enum ModelFile {
  /// Reads the network at `path`: an ONNX model (`.onnx`, ``ONNXModelReader``) or a Keras HDF5
  /// file (anything else, ``KerasModelReader``).
  /// - Throws: the reader's error, naming the file and what in it could not be read.
  public static func read(_ path: String) throws -> Graph {
    isONNX(path) ? try ONNXModelReader.read(path) : try KerasModelReader.read(path)
  }

  /// Whether `path` names an ONNX model.
  public static func isONNX(_ path: String) -> Bool {
    path.lowercased().hasSuffix(".onnx")
  }
}
