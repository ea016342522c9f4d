import Tensor

/// A set of images with integer class labels, ready for a network.
public struct LabeledImages: Sendable {
  /// `(N, H, W, 1)`, channels last, pixel values scaled from `0…255` to `0…1`.
  public let images: Tensor<Float>
  /// One label per image, each in `0..<classNames.count`.
  public let labels: [Int]
  /// Human-readable class names, indexed by label.
  public let classNames: [String]
  /// Where the data came from, e.g. `fashion-mnist/test`.
  public let name: String
  /// How many images of the source were skipped before these (`--offset`).
  public var offset = 0
  /// What was done to the images after reading them (nil: nothing).
  public var preprocessing: Preprocessing?

  public init(images: Tensor<Float>, labels: [Int], classNames: [String], name: String) {
    precondition(
      images.rank >= 1 && images.shape[0] == labels.count, "images \(images.shape) vs \(labels.count) labels")
    self.images = images
    self.labels = labels
    self.classNames = classNames
    self.name = name
  }

  /// The number of images.
  public var count: Int { labels.count }

  /// The first `limit` images (all of them when `limit` is nil or larger than the set).
  public func prefix(_ limit: Int?) -> LabeledImages {
    guard let limit, limit < count else { return self }
    return LabeledImages(
      images: images.rows(0..<max(limit, 0)), labels: Array(labels.prefix(max(limit, 0))),
      classNames: classNames, name: name)
  }

  /// Throws ``DatasetError/labelBeyondOutputs(data:index:label:outputs:network:)`` unless every
  /// label is below `outputs`, the number of classes the network called `network` scores.
  public func checkLabels(fit outputs: Int, network: String) throws {
    if let index = labels.firstIndex(where: { !(0..<outputs).contains($0) }) {
      throw DatasetError.labelBeyondOutputs(
        data: name, index: index, label: labels[index], outputs: outputs, network: network)
    }
  }

  /// How many images carry each label.
  public var classCounts: [Int] {
    var counts = [Int](repeating: 0, count: classNames.count)
    for label in labels { counts[label] += 1 }
    return counts
  }
}
