import Foundation
import Tensor

/// Which part of a data set to load.
public enum Split: String, Sendable, CaseIterable, Codable {
  case train, test

  /// The file-name prefix MNIST-style distributions use (`t10k` for the test split).
  var filePrefix: String { self == .train ? "train" : "t10k" }
}

/// Where images come from: a named data set or a directory of IDX files.
///
/// On the command line it is written `fashion-mnist` or a path to a directory that holds
/// `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`
/// and `t10k-labels-idx1-ubyte[.gz]` (the layout of MNIST, Fashion-MNIST and KMNIST downloads).
public enum DataSource: Sendable, Equatable, CustomStringConvertible {
  /// Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) as installed by Debian's
  /// `dataset-fashion-mnist`: 60,000 training and 10,000 test images, 28×28 grey, 10 classes.
  case fashionMNIST
  /// MNIST-layout IDX files in a directory; labels are taken as classes `0…max`.
  case directory(String)
  /// NumPy or HDF5 arrays (``ArrayDataSource``); labels are taken as classes `0…max`, or as
  /// many as one-hot rows have.
  case arrays(ArrayDataSource)

  /// Where Debian's `dataset-fashion-mnist` puts its files.
  public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

  /// The Fashion-MNIST class names, by label.
  public static let fashionMNISTClasses = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
  ]

  /// Parses `fashion-mnist` or a directory path.
  /// - Throws: ``DatasetError/unknownSource(_:)`` when it is neither.
  public init(parsing text: String) throws {
    if text.lowercased() == "fashion-mnist" || text.lowercased() == "fashion_mnist" {
      self = .fashionMNIST
      return
    }
    if let arrays = ArrayDataSource(parsing: text) {
      self = .arrays(arrays)
      return
    }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory), isDirectory.boolValue
    else {
      throw DatasetError.unknownSource(text)
    }
    self = .directory(text)
  }

  public var description: String {
    switch self {
    case .fashionMNIST: return "fashion-mnist"
    case .directory(let path): return path
    case .arrays(let arrays): return arrays.description
    }
  }

  /// Loads one split.
  /// - Parameter limit: keep only the first `limit` images (nil: all).
  /// - Throws: ``DatasetError`` naming the file at fault; for Fashion-MNIST a missing file says
  ///   how to install it.
  /// - Complexity: O(images · pixels); the training split of Fashion-MNIST takes about 200 MB.
  public func load(_ split: Split, limit: Int? = nil) throws -> LabeledImages {
    let directory: String
    let hint: String
    switch self {
    case .arrays(let arrays): return try arrays.load(split, limit: limit)
    case .fashionMNIST:
      directory = Self.fashionMNISTDirectory
      hint = "Install Fashion-MNIST with: sudo apt-get install dataset-fashion-mnist"
    case .directory(let path):
      directory = path
      hint = "Expected MNIST-style IDX files in '\(path)'."
    }
    let imagesPath = Self.locate(directory, "\(split.filePrefix)-images-idx3-ubyte")
    let labelsPath = Self.locate(directory, "\(split.filePrefix)-labels-idx1-ubyte")
    let imageFile = try IDXFile.read(imagesPath, rank: 3, hint: hint)
    let labelFile = try IDXFile.read(labelsPath, rank: 1, hint: hint)
    guard imageFile.dimensions[0] == labelFile.dimensions[0] else {
      throw DatasetError.countMismatch(
        images: imagesPath, imageCount: imageFile.dimensions[0], labels: labelsPath,
        labelCount: labelFile.dimensions[0])
    }
    guard imageFile.dimensions[0] > 0 else { throw DatasetError.noImages(path: imagesPath) }
    let classNames: [String]
    switch self {
    case .fashionMNIST: classNames = Self.fashionMNISTClasses
    case .directory, .arrays:
      classNames = (0...Int(labelFile.bytes.max() ?? 0)).map { "\($0)" }
    }
    if let index = labelFile.bytes.firstIndex(where: { Int($0) >= classNames.count }) {
      throw DatasetError.badLabel(
        path: labelsPath, index: index, value: Int(labelFile.bytes[index]), classCount: classNames.count)
    }
    let count = min(imageFile.dimensions[0], max(limit ?? .max, 0))
    let (height, width) = (imageFile.dimensions[1], imageFile.dimensions[2])
    let pixels = imageFile.bytes.prefix(count * height * width).map { Float($0) / 255 }
    let name: String
    switch self {
    case .fashionMNIST: name = "fashion-mnist/\(split.rawValue)"
    case .directory(let path): name = "\(path)/\(split.rawValue)"
    case .arrays(let arrays): name = arrays.description
    }
    return LabeledImages(
      images: Tensor(shape: [count, height, width, 1], scalars: pixels),
      labels: labelFile.bytes.prefix(count).map { Int($0) }, classNames: classNames, name: name)
  }

  /// `base.gz` if it exists, else `base` (reported as `base.gz` when neither exists).
  private static func locate(_ directory: String, _ base: String) -> String {
    let plain = (directory as NSString).appendingPathComponent(base)
    if FileManager.default.fileExists(atPath: plain + ".gz") || !FileManager.default.fileExists(atPath: plain)
    {
      return plain + ".gz"
    }
    return plain
  }
}
