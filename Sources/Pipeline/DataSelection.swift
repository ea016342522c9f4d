import Datasets
import Graph

/// Which labelled images a command works on: a data source, a split, and optionally only the
/// first `limit` images.
public struct DataSelection: Sendable, Equatable {
  public var source: DataSource
  public var split: Split
  public var limit: Int?

  public init(source: DataSource = .fashionMNIST, split: Split = .test, limit: Int? = nil) {
    self.source = source
    self.split = split
    self.limit = limit
  }

  /// Loads the selected images.
  /// - Throws: `DatasetError` naming the missing or malformed file.
  public func load() throws -> LabeledImages { try source.load(split, limit: limit) }
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
