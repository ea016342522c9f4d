import ArgumentParser
import Datasets
import Foundation
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
      "Data source: 'fashion-mnist', a directory of MNIST-style IDX files, FILE.npz[:X,Y], IMAGES.npy,LABELS.npy, or FILE.h5[:/X,/Y] (docs/data.md).",
      valueName: "source"),
    transform: parseDataSource)
  public var data: DataSource = .fashionMNIST

  @Option(help: "Which split to use (default: test; files that hold one set ignore it).")
  public var split: Split?

  @Option(help: ArgumentHelp("Use only the first N images.", valueName: "N"))
  public var limit: Int?

  @Flag(help: "Images in NumPy or HDF5 arrays are stored N×C×H×W (PyTorch's layout), not N×H×W×C.")
  public var channelsFirst = false

  public init() {}

  public func validate() throws {
    if channelsFirst, case .arrays = data {
    } else if channelsFirst {
      throw ValidationError("--channels-first applies to NumPy and HDF5 arrays, not to '\(data)'")
    }
    if let limit, limit <= 0 {
      throw ValidationError("--limit must be a positive number of images, got \(limit)")
    }
  }

  /// The selected images.
  public var selection: DataSelection {
    var source = data
    if case .arrays(var arrays) = source {
      arrays.channelsFirst = channelsFirst
      source = .arrays(arrays)
    }
    return DataSelection(source: source, split: split ?? .test, limit: limit)
  }

  /// Loads the selected images; says on standard error when `--split` was given for a file that
  /// holds one set, which ignores it.
  public func load() throws -> LabeledImages {
    let images = try selection.load()
    if let split, case .arrays = data, !images.name.hasSuffix("/\(split.rawValue)") {
      FileHandle.standardError.write(
        Data("note: \(data) holds one set of images; --split \(split.rawValue) is ignored\n".utf8))
    }
    return images
  }
}
