import Graph
import Spiking
import Tensor

/// How calibration is spread over the processes of a job (docs/scaling.md): each runs every
/// `size`-th chunk of images through the ANN, starting at chunk `rank`; maxima are merged by an
/// element-wise maximum over the processes and percentile samples by concatenation, so that
/// every process ends with the scales one process would compute, exactly.
public struct CalibrationSharding: Sendable {
  public let rank: Int
  public let size: Int
  /// Element-wise maxima of every process's values, on every process.
  public let maximum: @Sendable ([Double]) -> [Double]
  /// Every process's values, concatenated in rank order, on every process.
  public let concatenate: @Sendable ([Float]) -> [Float]

  public init(
    rank: Int, size: Int, maximum: @escaping @Sendable ([Double]) -> [Double],
    concatenate: @escaping @Sendable ([Float]) -> [Float]
  ) {
    self.rank = rank
    self.size = size
    self.maximum = maximum
    self.concatenate = concatenate
  }

  /// One process calibrating on every image.
  public static let alone = CalibrationSharding(rank: 0, size: 1, maximum: { $0 }, concatenate: { $0 })
}

/// Data-based normalization (docs/dynamics.md, "Normalization"): the scale λ of every
/// population from the ANN's activations on calibration images.
public enum Calibration {
  /// λ for every non-affine node that becomes a population — the output too, whatever its
  /// activation (a ReLU on the logits is a population like any other), all but a final softmax,
  /// which the readout skips — from `calibration` run through the ANN in
  /// chunks of 100 images, so that memory stays O(chunk × neurons) for max normalization (a
  /// percentile needs every value of a node, which is kept).
  /// - Returns: per node, one λ (layer), one per channel, or one per neuron of a sample.
  /// - Parameter sharding: which chunks this process runs, and how the processes' findings are
  ///   merged (a maximum is exact in any order; a percentile sorts the values first).
  public static func scales(
    _ graph: Graph, _ calibration: Tensor<Float>, _ normalization: Normalization, _ granularity: Granularity,
    sharding: CalibrationSharding = .alone
  ) throws -> [String: [Double]] {
    let adapted = try graph.adaptInput(calibration)
    let nodes = graph.nodes.filter {
      !$0.op.isAffine && !($0.op == .softmax && graph.outputs.contains($0.name))
    }
    func width(_ node: Node) -> Int {
      switch granularity {
      case .layer: return 1
      case .channel: return node.shape.last ?? 1
      case .neuron: return node.shape.reduce(1, *)
      }
    }
    var maxima = [String: [Float]]()
    var samples = [String: [Float]]()
    let count = adapted.shape[0]
    for (chunk, start) in stride(from: 0, to: count, by: 100).enumerated()
    where chunk % sharding.size == sharding.rank {
      let values = graph.activations([adapted.rows(start..<min(start + 100, count))])
      for node in nodes {
        let scalars = values[node.name]!.scalars
        if normalization == .max {
          let groups = width(node)
          var largest = maxima[node.name] ?? [Float](repeating: 0, count: groups)
          for (i, value) in scalars.enumerated() {
            largest[i % groups] = Swift.max(largest[i % groups], abs(value))
          }
          maxima[node.name] = largest
        } else {
          samples[node.name, default: []].append(contentsOf: scalars)
        }
      }
    }
    // In node order on every process: the merges are collective.
    var scales = [String: [Double]]()
    for node in nodes {
      if normalization == .max {
        let local = (maxima[node.name] ?? [Float](repeating: 0, count: width(node))).map(Double.init)
        scales[node.name] = sharding.maximum(local).map { Swift.max($0, smallestScale) }
      } else {
        let values = sharding.concatenate(samples[node.name] ?? [])
        scales[node.name] = groupScales(values, width: width(node), normalization)
      }
    }
    return scales
  }

  /// The smallest λ given, so that an all-zero population keeps a valid scale.
  public static let smallestScale = 1e-6

  /// λ per group of values: `values` is `[…, width]` row-major and position `j` of every row
  /// forms group `j` (width 1: one group of all values).
  static func groupScales(_ values: [Float], width: Int, _ normalization: Normalization) -> [Double] {
    guard width > 1 else { return [scale(values, normalization)] }
    var groups = [[Float]](repeating: [], count: width)
    for (i, value) in values.enumerated() { groups[i % width].append(value) }
    return groups.map { scale($0, normalization) }
  }

  /// λ from recorded activations: the maximum or a percentile of their magnitudes (so signed
  /// outputs such as GELU's or LayerNorm's are covered on both sides), at least
  /// ``smallestScale``.
  static func scale(_ values: [Float], _ normalization: Normalization) -> Double {
    switch normalization {
    case .none: return 1
    case .max: return Swift.max(Double(values.lazy.map { abs($0) }.max() ?? 1), smallestScale)
    case .percentile(let p):
      let positive = values.lazy.map { abs($0) }.filter { $0 > 0 }.sorted()
      guard !positive.isEmpty else { return smallestScale }
      let rank = Int((p / 100 * Double(positive.count - 1)).rounded())
      return Swift.max(Double(positive[Swift.min(rank, positive.count - 1)]), smallestScale)
    }
  }
}
