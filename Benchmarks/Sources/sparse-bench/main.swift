import BenchSupport
import Foundation
import Tensor

// Where visiting the spikes beats a GEMM: the event update's two ways of adding an affine map's
// linear part of one step's spikes (`Tensor.denseAddingNonzeros` / `conv2dAddingNonzeros`
// against `Tensor.dense` / `conv2d` with β = 1), on the affine layers of the shipped networks fed
// by spikes, batch 100, one thread, at a range of spike densities (the share of inputs that
// fired in the step). Prints a Markdown table of GEMM time / sparse time (above 1: visiting the
// spikes is faster) and the density where the two cost the same. Results: docs/benchmarks.md.

/// Spikes at `density`: each input is η·λ with that probability, else 0.
func spikes(_ count: Int, density: Double, using generator: inout SplitMix64) -> [Float] {
  (0..<count).map { _ in Double.random(in: 0..<1, using: &generator) < density ? 0.03 : 0 }
}

/// `count` weights uniform in ±0.1.
func weights(_ count: Int, using generator: inout SplitMix64) -> [Float] {
  (0..<count).map { _ in Float.random(in: -0.1...0.1, using: &generator) }
}

var generator = SplitMix64(seed: 1)

enum Layer {
  case dense(inputs: Int, units: Int)
  case conv(size: Int, channels: Int, filters: Int, kernel: Int)

  var name: String {
    switch self {
    case .dense(let inputs, let units): return "dense \(inputs)→\(units)"
    case .conv(let size, let channels, let filters, let kernel):
      return "conv \(size)×\(size)×\(channels), \(kernel)×\(kernel)→\(filters), same"
    }
  }
}

let batch = 100
let densities = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5]
let layers: [(network: String, layer: Layer)] = [
  ("cnn, cnn-bn", .conv(size: 14, channels: 32, filters: 64, kernel: 3)),
  ("cnn, cnn-bn", .dense(inputs: 3136, units: 128)),
  ("cnn, cnn-bn, mlp", .dense(inputs: 128, units: 10)),
  ("mlp", .dense(inputs: 256, units: 128)),
  ("bench-cnn", .conv(size: 13, channels: 8, filters: 16, kernel: 3)),
  ("bench-cnn", .dense(inputs: 400, units: 10)),
]
let header = densities.map { (density: Double) -> String in "\(Int(density * 100)) %" }
print("| network | layer | " + header.joined(separator: " | ") + " | break-even |")
print("|---|---|" + String(repeating: "---:|", count: densities.count) + "---:|")
for (network, layer) in layers {
  var ratios = [Double]()
  for density in densities {
    let gemm: () -> Void
    let sparse: () -> Void
    switch layer {
    case .dense(let inputs, let units):
      let x = spikes(batch * inputs, density: density, using: &generator)
      let w = weights(inputs * units, using: &generator)
      let y = UnsafeMutableBufferPointer<Float>.allocate(capacity: batch * units)
      y.initialize(repeating: 0)
      gemm = {
        x.withUnsafeBufferPointer { x in
          w.withUnsafeBufferPointer { w in
            Tensor.dense(x, rows: batch, weight: w, inputWidth: inputs, outputWidth: units, into: y, beta: 1)
          }
        }
      }
      sparse = {
        x.withUnsafeBufferPointer { x in
          w.withUnsafeBufferPointer { w in
            Tensor.denseAddingNonzeros(
              x, rows: batch, weight: w, inputWidth: inputs, outputWidth: units, into: y)
          }
        }
      }
    case .conv(let size, let channels, let filters, let kernel):
      let window = Window2D(input: (size, size), kernel: (kernel, kernel), strides: (1, 1), padding: .same)!
      let x = spikes(batch * size * size * channels, density: density, using: &generator)
      let k = weights(kernel * kernel * channels * filters, using: &generator)
      let y = UnsafeMutableBufferPointer<Float>.allocate(capacity: batch * size * size * filters)
      y.initialize(repeating: 0)
      let columns = UnsafeMutableBufferPointer<Float>.allocate(
        capacity: max(
          1, Tensor<Float>.conv2dColumnsCapacity(images: batch, channels: channels, window: window)))
      columns.initialize(repeating: 0)
      gemm = {
        x.withUnsafeBufferPointer { x in
          k.withUnsafeBufferPointer { k in
            Tensor.conv2d(
              x, images: batch, channels: channels, window: window, kernel: k, outChannels: filters,
              columns: columns, into: y, beta: 1)
          }
        }
      }
      sparse = {
        x.withUnsafeBufferPointer { x in
          k.withUnsafeBufferPointer { k in
            Tensor.conv2dAddingNonzeros(
              x, images: batch, channels: channels, window: window, kernel: k, outChannels: filters, into: y)
          }
        }
      }
    }
    gemm()
    sparse()
    // Alternating rounds, median of the per-round ratios.
    var roundRatios = [Double]()
    for _ in 0..<5 { roundRatios.append(secondsPerCall(gemm) / secondsPerCall(sparse)) }
    ratios.append(roundRatios.sorted()[2])
  }
  // Linear interpolation of log(ratio) between the densities around 1.
  var breakEven = "—"
  if let i = ratios.indices.dropLast().first(where: { ratios[$0] >= 1 && ratios[$0 + 1] < 1 }) {
    let a = log(ratios[i])
    let b = log(ratios[i + 1])
    let density = densities[i] + (densities[i + 1] - densities[i]) * a / (a - b)
    breakEven = String(format: "%.0f %%", 100 * density)
  } else if ratios.allSatisfy({ $0 >= 1 }) {
    breakEven = "> 50 %"
  } else if ratios.allSatisfy({ $0 < 1 }) {
    breakEven = "< 1 %"
  }
  print(
    "| \(network) | \(layer.name) | " + ratios.map { String(format: "%.2f", $0) }.joined(separator: " | ")
      + " | \(breakEven) |")
}
