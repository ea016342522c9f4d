/// Why a data set could not be loaded. Each case names the file involved.
public enum DatasetError: Error, Equatable, Sendable {
  /// A file the data set needs is absent; `hint` says how to get it.
  case missingFile(path: String, hint: String)
  /// The file could not be read or decompressed.
  case unreadable(path: String, reason: String)
  /// The first four bytes are not the IDX magic number expected for this kind of file.
  case badMagic(path: String, expected: UInt32, actual: UInt32)
  /// The file holds fewer bytes than its header promises (or more, which means a wrong file).
  case wrongSize(path: String, expectedBytes: Int, actualBytes: Int)
  /// Images and labels disagree in count.
  case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
  /// A label outside `0..<classCount`.
  case badLabel(path: String, index: Int, value: Int, classCount: Int)
  /// A data source name that is neither a known data set nor an existing directory.
  case unknownSource(String)
  /// The images file holds no images: there is nothing to evaluate, simulate or calibrate on.
  case noImages(path: String)
  /// A label that names none of a network's outputs (the data has more classes than the
  /// network scores).
  case labelBeyondOutputs(data: String, index: Int, label: Int, outputs: Int, network: String)
}

extension DatasetError: CustomStringConvertible {
  public var description: String {
    switch self {
    case .missingFile(let path, let hint):
      return "data file '\(path)' not found. \(hint)"
    case .unreadable(let path, let reason):
      return "cannot read '\(path)': \(reason)"
    case .badMagic(let path, let expected, let actual):
      return
        "'\(path)' is not the expected IDX file: magic number 0x\(hex(actual)), expected 0x\(hex(expected))"
    case .wrongSize(let path, let expectedBytes, let actualBytes):
      if actualBytes > expectedBytes {
        return "'\(path)' has trailing data: its header promises \(expectedBytes) bytes, it holds more"
      }
      return "'\(path)' is truncated: its header promises \(expectedBytes) bytes, it holds \(actualBytes)"
    case .countMismatch(let images, let imageCount, let labels, let labelCount):
      return "'\(images)' holds \(imageCount) images but '\(labels)' holds \(labelCount) labels"
    case .badLabel(let path, let index, let value, let classCount):
      return "'\(path)': label \(value) at index \(index) is outside 0..<\(classCount)"
    case .noImages(let path):
      return "'\(path)' holds no images"
    case .labelBeyondOutputs(let data, let index, let label, let outputs, let network):
      return "'\(data)': label \(label) of image \(index) names no output of '\(network)', which scores "
        + "\(outputs) classes (0…\(outputs - 1))"
    case .unknownSource(let name):
      return "unknown data source '\(name)': use 'fashion-mnist', a directory holding IDX files "
        + "named like train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-…, "
        + "FILE.npz[:X,Y], IMAGES.npy,LABELS.npy or FILE.h5[:/X,/Y]"
    }
  }
}

private func hex(_ value: UInt32) -> String {
  let digits = String(value, radix: 16)
  return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
