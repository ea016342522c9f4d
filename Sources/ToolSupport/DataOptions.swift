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
      "Data source: 'fashion-mnist', a directory of MNIST-style IDX files, FILE.npz[:X,Y], IMAGES.npy,LABELS.npy, or FILE.h5[:/X,/Y] (docs/data.md) (default: fashion-mnist).",
      valueName: "source"),
    transform: parseDataSource)
  public var data: DataSource = .fashionMNIST

  @Option(help: "Which split to use (default: test; files that hold one set ignore it).")
  public var split: Split?

  @Option(help: ArgumentHelp("Use only the first N images (default: all).", valueName: "N"))
  public var limit: Int?

  @Option(help: ArgumentHelp("Skip the first K images (with --limit: take images K…K+N−1).", valueName: "K"))
  public var offset = 0

  @Flag(help: "Images in NumPy or HDF5 arrays are stored N×C×H×W (PyTorch's layout), not N×H×W×C.")
  public var channelsFirst = false

  @OptionGroup(title: "Preprocessing") public var preprocessing: PreprocessingOptions

  public init() {}

  public func validate() throws {
    if channelsFirst, case .arrays = data {
    } else if channelsFirst {
      throw ValidationError("--channels-first applies to NumPy and HDF5 arrays, not to '\(data)'")
    }
    if offset < 0 { throw ValidationError("--offset must not be negative, got \(offset)") }
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
    return DataSelection(
      source: source, split: split ?? .test, limit: limit, offset: offset,
      preprocessing: preprocessing.value)
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

/// `--scale`, `--mean` and `--std`: what is done to images before they enter a model, the same
/// for the images a command evaluates, calibrates on or trains on.
public struct PreprocessingOptions: ParsableArguments, Sendable {
  @Option(
    help: ArgumentHelp("Multiply every image value by S first: x' = (x·S − mean)/std.", valueName: "S"))
  public var scale: Double = 1

  @Option(
    help: ArgumentHelp("Subtract, one value or one per channel (default: 0).", valueName: "m,m,…"),
    transform: { try parseList($0, option: "--mean", expected: "numbers") { Double($0) } })
  public var mean: [Double] = [0]

  @Option(
    help: ArgumentHelp("Divide by, one value or one per channel (default: 1).", valueName: "s,s,…"),
    transform: { try parseList($0, option: "--std", expected: "numbers") { Double($0) } })
  public var std: [Double] = [1]

  public init() {}

  public func validate() throws {
    if let problem = Preprocessing(scale: scale, mean: mean, std: std).problem {
      throw ValidationError(problem)
    }
  }

  /// The preprocessing asked for; nil when it changes nothing.
  public var value: Preprocessing? {
    let preprocessing = Preprocessing(scale: scale, mean: mean, std: std)
    return preprocessing.isIdentity && preprocessing.problem == nil ? nil : preprocessing
  }
}
