import Tensor

/// What is done to images before they enter a model: `x' = (x·scale − mean)/std`, with `mean`
/// and `std` one value for every channel or one per channel (the last axis). Recorded in run
/// results so that a run says what its network saw.
public struct Preprocessing: Sendable, Codable, Hashable {
  public var scale: Double
  public var mean: [Double]
  public var std: [Double]

  public init(scale: Double = 1, mean: [Double] = [0], std: [Double] = [1]) {
    self.scale = scale
    self.mean = mean
    self.std = std
  }

  /// Whether it leaves images as they are.
  public var isIdentity: Bool { scale == 1 && mean.allSatisfy { $0 == 0 } && std.allSatisfy { $0 == 1 } }

  /// Why the values cannot be used, or nil: every value finite, `scale` and every `std`
  /// non-zero, at least one mean and one std.
  public var problem: String? {
    guard scale.isFinite, scale != 0 else { return "--scale must be a finite non-zero number, got \(scale)" }
    guard !mean.isEmpty, mean.allSatisfy(\.isFinite) else { return "--mean must be finite numbers" }
    guard !std.isEmpty, std.allSatisfy({ $0.isFinite && $0 != 0 }) else {
      return "--std must be finite non-zero numbers"
    }
    return nil
  }

  /// `images` (`N×…×C`) preprocessed.
  /// - Throws: ``DatasetError/unreadable(path:reason:)`` naming `data` when `mean` or `std`
  ///   has neither one value nor one per channel.
  public func apply(to images: Tensor<Float>, data: String) throws -> Tensor<Float> {
    let channels = images.shape.last ?? 1
    for (values, flag) in [(mean, "--mean"), (std, "--std")]
    where values.count != 1 && values.count != channels {
      throw DatasetError.unreadable(
        path: data,
        reason:
          "\(flag) has \(values.count) values; its images have \(channels) channels (give 1 or \(channels))")
    }
    var values = images.scalars
    let (scale, mean, std) = (Float(scale), mean.map(Float.init), std.map(Float.init))
    values.withUnsafeMutableBufferPointer { x in
      for i in 0..<x.count {
        let c = i % channels
        x[i] = (x[i] * scale - mean[mean.count == 1 ? 0 : c]) / std[std.count == 1 ? 0 : c]
      }
    }
    return Tensor(shape: images.shape, scalars: values)
  }
}
