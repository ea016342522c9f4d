import ArgumentParser
import Datasets
import Pipeline

extension Split: ExpressibleByArgument {}

/// Parses a `--data` value for ArgumentParser, turning the data set's error into a usage error.
public func parseDataSource(_ text: String) throws -> DataSource {
  do { return try DataSource(parsing: text) } catch { throw ValidationError("\(error)") }
}

/// The options that name a data set, shared by every command that reads images.
public struct DataOptions: ParsableArguments, Sendable {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Data source: 'fashion-mnist' or a directory of MNIST-style IDX files.", valueName: "source"),
    transform: parseDataSource)
  public var data: DataSource = .fashionMNIST

  @Option(help: "Which split to use.")
  public var split: Split = .test

  @Option(help: ArgumentHelp("Use only the first N images.", valueName: "N"))
  public var limit: Int?

  public init() {}

  public func validate() throws {
    if let limit, limit <= 0 {
      throw ValidationError("--limit must be a positive number of images, got \(limit)")
    }
  }

  /// The selected images.
  public var selection: DataSelection { DataSelection(source: data, split: split, limit: limit) }
}
