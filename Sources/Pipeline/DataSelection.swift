import Datasets
import Graph

/// Which labelled images a command works on: a data source, a split, and optionally only the
/// first `limit` images.
public struct DataSelection: Sendable, Equatable {
  public var source: DataSource
  public var split: Split
  public var limit: Int?
  /// Images of the source skipped before the selection starts.
  public var offset: Int
  /// Applied to the images after reading (nil or identity: nothing).
  public var preprocessing: Preprocessing?

  public init(
    source: DataSource = .fashionMNIST, split: Split = .test, limit: Int? = nil, offset: Int = 0,
    preprocessing: Preprocessing? = nil
  ) {
    self.source = source
    self.split = split
    self.limit = limit
    self.offset = offset
    self.preprocessing = preprocessing
  }

  /// Loads the selected images: `limit` of them from `offset` on, preprocessed.
  /// - Throws: `DatasetError` naming the missing or malformed file, or an offset past the end.
  public func load() throws -> LabeledImages {
    let read = try source.load(split, limit: limit.map { offset + $0 })
    guard offset < read.count else {
      throw DatasetError.unreadable(
        path: read.name, reason: "--offset \(offset) is past its \(read.count) images")
    }
    var images = read.images
    if offset > 0 { images = images.rows(offset..<read.count) }
    var preprocessed: Preprocessing?
    if let preprocessing, !preprocessing.isIdentity {
      images = try preprocessing.apply(to: images, data: read.name)
      preprocessed = preprocessing
    }
    var selected = LabeledImages(
      images: images, labels: Array(read.labels[offset...]), classNames: read.classNames, name: read.name)
    selected.offset = offset
    selected.preprocessing = preprocessed
    return selected
  }
}

extension LabeledImages {
  /// Throws unless the images fit `graph`'s input (`GraphError`, as ``Graph/adaptInput(_:)``) and
  /// every label is one of the classes it scores (`DatasetError.labelBeyondOutputs`): an index
  /// into the last axis of its first output, where the prediction is the argmax.
  public func check(fits graph: Graph) throws {
    _ = try graph.adaptInput(images)
    try checkLabels(fit: graph.node(graph.outputs[0])!.shape.last ?? 1, network: graph.name)
  }
}
