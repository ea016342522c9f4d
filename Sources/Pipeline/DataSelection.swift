import Datasets

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
