import Foundation
import HDF5
import Tensor

/// Labelled images kept as arrays: a NumPy `.npz` archive, a pair of `.npy` files, or two
/// datasets of an HDF5 file (docs/data.md, "Your own data").
///
/// Images are `N×H×W×C`, `N×H×W` (one channel) or `N×F` (one value per feature), or `N×C×H×W`
/// with ``channelsFirst``; any numeric type, the values as stored. Labels are integers `0…K−1`,
/// one per image, or one-hot rows `N×K` (the arg-max is the label).
public struct ArrayDataSource: Sendable, Equatable, CustomStringConvertible {
  public enum Container: Sendable, Equatable {
    case npz(String)
    case npy(images: String, labels: String)
    case hdf5(String)
  }

  public var container: Container
  /// The arrays' names, when given; else `x` and `y`, or Keras's `x_train`/`y_train`/
  /// `x_test`/`y_test` chosen by the split.
  public var names: (images: String, labels: String)?
  /// Whether images are stored `N×C×H×W`.
  public var channelsFirst = false

  public init(
    container: Container, names: (images: String, labels: String)? = nil, channelsFirst: Bool = false
  ) {
    self.container = container
    self.names = names
    self.channelsFirst = channelsFirst
  }

  public static func == (a: ArrayDataSource, b: ArrayDataSource) -> Bool {
    a.container == b.container && a.names?.images == b.names?.images && a.names?.labels == b.names?.labels
      && a.channelsFirst == b.channelsFirst
  }

  /// Parses `file.npz`, `file.npz:X,Y`, `images.npy,labels.npy`, `file.h5` or `file.h5:/x,/y`;
  /// nil for text of another form.
  public init?(parsing text: String) {
    func split(_ path: Substring, _ rest: Substring?) -> (String, (String, String)?)? {
      guard let rest else { return (String(path), nil) }
      let parts = rest.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
      return (String(path), (parts[0], parts[1]))
    }
    let lower = text.lowercased()
    if lower.hasSuffix(".npy") && text.contains(",") {
      let parts = text.split(separator: ",").map(String.init)
      guard parts.count == 2, parts.allSatisfy({ $0.lowercased().hasSuffix(".npy") }) else { return nil }
      self.init(container: .npy(images: parts[0], labels: parts[1]))
      return
    }
    for (suffixes, make) in [
      ([".npz"], { Container.npz($0) }), ([".h5", ".hdf5"], { Container.hdf5($0) }),
    ] as [([String], (String) -> Container)] {
      for suffix in suffixes {
        guard let range = lower.range(of: suffix) else { continue }
        let end = text.index(
          text.startIndex, offsetBy: lower.distance(from: lower.startIndex, to: range.upperBound))
        let rest: Substring? =
          end == text.endIndex ? nil : text[end...].first == ":" ? text[text.index(after: end)...] : nil
        guard end == text.endIndex || rest != nil, let (path, names) = split(text[..<end], rest) else {
          continue
        }
        self.init(container: make(path), names: names)
        return
      }
    }
    return nil
  }

  public var description: String {
    let names = self.names.map { ":\($0.images),\($0.labels)" } ?? ""
    switch container {
    case .npz(let path), .hdf5(let path): return path + names
    case .npy(let images, let labels): return "\(images),\(labels)"
    }
  }

  /// The largest array read: 2³¹ bytes.
  static let maximumBytes = ZipArchive.maximumBytes

  /// Loads the images and labels; `split` picks Keras's `x_train`/`x_test` layout and is
  /// otherwise ignored (the data's name then carries no split).
  func load(_ split: Split, limit: Int?) throws -> LabeledImages {
    let (images, labels, usedSplit) = try arrays(split)
    let name = description + (usedSplit ? "/\(split.rawValue)" : "")
    let labelPath = labels.source
    guard images.shape.count >= 2, (2...4).contains(images.shape.count) else {
      throw DatasetError.unreadable(
        path: images.source, reason: "images must be N×H×W×C, N×H×W or N×F, got shape \(images.shape)")
    }
    let count = images.shape[0]
    guard count > 0 else { throw DatasetError.noImages(path: images.source) }
    var indices = [Int]()
    switch labels.shape.count {
    case 1:
      guard
        labels.isInteger || (0..<labels.count).allSatisfy({ labels.value($0) == labels.value($0).rounded() })
      else {
        throw DatasetError.unreadable(path: labelPath, reason: "labels must be whole numbers 0…K−1")
      }
      indices = (0..<labels.count).map { Int(labels.value($0)) }
    case 2:
      let classes = labels.shape[1]
      guard classes > 0 else {
        throw DatasetError.unreadable(path: labelPath, reason: "one-hot labels with no classes")
      }
      for row in 0..<labels.shape[0] {
        var best = 0
        for k in 1..<classes where labels.value(row * classes + k) > labels.value(row * classes + best) {
          best = k
        }
        indices.append(best)
      }
    default:
      throw DatasetError.unreadable(
        path: labelPath, reason: "labels must be N integers or N×K one-hot rows, got shape \(labels.shape)")
    }
    guard indices.count == count else {
      throw DatasetError.countMismatch(
        images: images.source, imageCount: count, labels: labelPath, labelCount: indices.count)
    }
    if let index = indices.firstIndex(where: { $0 < 0 }) {
      throw DatasetError.badLabel(path: labelPath, index: index, value: indices[index], classCount: Int.max)
    }
    let classes = labels.shape.count == 2 ? labels.shape[1] : (indices.max() ?? 0) + 1
    let kept = min(count, max(limit ?? .max, 0))
    var shape = images.shape
    switch shape.count {
    case 2: shape = [shape[0], shape[1], 1, 1]
    case 3: shape = shape + [1]
    default: break
    }
    let perImage = shape.dropFirst().reduce(1, *)
    var values = images.floats()
    values.removeLast(values.count - kept * perImage)
    if channelsFirst && images.shape.count == 4 {
      // N×C×H×W to N×H×W×C.
      let moved = Tensor(shape: [kept] + shape.dropFirst(), scalars: values).permuted([0, 2, 3, 1])
      values = moved.scalars
      shape = moved.shape
    }
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
      throw DatasetError.unreadable(
        path: images.source, reason: "value \(values[bad]) at element \(bad): images must be finite")
    }
    return LabeledImages(
      images: Tensor(shape: [kept] + shape.dropFirst(), scalars: values), labels: Array(indices.prefix(kept)),
      classNames: (0..<classes).map(String.init), name: name)
  }

  /// The images and labels arrays, and whether the split chose them.
  private func arrays(_ split: Split) throws -> (NumPyArray, NumPyArray, Bool) {
    switch container {
    case .npy(let images, let labels):
      return (
        try NumPyArray([UInt8](InputFileBytes.read(images, limit: Self.maximumBytes)), source: images),
        try NumPyArray([UInt8](InputFileBytes.read(labels, limit: Self.maximumBytes)), source: labels), false
      )
    case .npz(let path):
      let archive = try ZipArchive(path: path)
      let members = Set(
        archive.entries.map(\.name).filter { $0.hasSuffix(".npy") }.map { String($0.dropLast(4)) })
      let (x, y, usedSplit) = try choose(members, split: split, file: path)
      func array(_ name: String) throws -> NumPyArray {
        try NumPyArray(archive.member(name + ".npy", limit: Self.maximumBytes), source: "\(path):\(name)")
      }
      return (try array(x), try array(y), usedSplit)
    case .hdf5(let path):
      do {
        let root = try HDF5File.open(path).root
        let names = Set(try datasetNames(root, prefix: ""))
        let (x, y, usedSplit) = try choose(names, split: split, file: path)
        return (try hdf5Array(root, x, file: path), try hdf5Array(root, y, file: path), usedSplit)
      } catch let error as HDF5Error {
        throw DatasetError.unreadable(path: path, reason: "\(error)")
      }
    }
  }

  /// The image and label names: the given ones, `x`/`y`, or Keras's layout by split.
  private func choose(_ available: Set<String>, split: Split, file: String) throws -> (String, String, Bool) {
    func strip(_ name: String) -> String { name.hasPrefix("/") ? String(name.dropFirst()) : name }
    let listing = available.sorted().joined(separator: ", ")
    if let names {
      for name in [names.images, names.labels] where !available.contains(strip(name)) {
        throw DatasetError.unreadable(path: file, reason: "no array '\(name)'; it holds: \(listing)")
      }
      return (strip(names.images), strip(names.labels), false)
    }
    if available.contains("x") && available.contains("y") { return ("x", "y", false) }
    let keras = ("x_\(split.rawValue)", "y_\(split.rawValue)")
    if available.contains(keras.0) && available.contains(keras.1) { return (keras.0, keras.1, true) }
    throw DatasetError.unreadable(
      path: file,
      reason:
        "no arrays 'x' and 'y' (nor '\(keras.0)' and '\(keras.1)'); it holds: \(listing). Name them as FILE:IMAGES,LABELS"
    )
  }

  private func datasetNames(_ group: HDF5Group, prefix: String) throws -> [String] {
    var names = [String]()
    for child in try group.children() {
      switch group.kind(of: child) {
      case .dataset: names.append(prefix + child)
      case .group: names += try datasetNames(try group.group(child), prefix: prefix + child + "/")
      default: break
      }
    }
    return names
  }

  private func hdf5Array(_ root: HDF5Group, _ name: String, file: String) throws -> NumPyArray {
    let dataset = try root.dataset(name)
    let shape = try dataset.shape
    guard let count = HDF5Limits.elementCount(shape), count * 8 <= Self.maximumBytes else {
      throw DatasetError.unreadable(path: "\(file):/\(name)", reason: "shape \(shape) is too large")
    }
    let values = try dataset.read(as: Double.self)
    let integer = try [.int32, .int64, .uint8, .otherInteger].contains(dataset.elementType)
    return NumPyArray(shape: shape, doubles: values, integer: integer, source: "\(file):/\(name)")
  }
}
