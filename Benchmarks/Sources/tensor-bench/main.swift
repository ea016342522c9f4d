import BenchSupport
import CBLASRaw
import Foundation
import Tensor

// Measures the Tensor module's matmul and conv2d against a raw cblas_sgemm doing the same
// multiply-adds into preallocated buffers, and prints a Markdown table. The ratio column is
// median over rounds of (raw sgemm time) / (Tensor time): 1.0 means the Tensor call costs nothing beyond the GEMM.

/// Times `tensor` and `raw` in alternating rounds (so drift in machine load hits both alike) and
/// returns the median time of each and the median of the per-round ratios raw/tensor.
func compare(rounds: Int = 9, tensor: () -> Void, raw: () -> Void) -> (
  tensor: Double, raw: Double, ratio: Double
) {
  tensor()
  raw()
  var samples = [(Double, Double)]()
  for _ in 0..<rounds { samples.append((secondsPerCall(tensor), secondsPerCall(raw))) }
  func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
  return (median(samples.map(\.0)), median(samples.map(\.1)), median(samples.map { $0.1 / $0.0 }))
}

func random(_ count: Int) -> [Float] {
  var state: UInt64 = 0x2545_F491_4F6C_DD1D
  return (0..<count).map { _ in
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(state >> 40) / Float(1 << 24) - 0.5
  }
}

/// A raw `C = A·B` with A m×k, B k×n, all row-major and preallocated.
func rawSgemm(m: Int, n: Int, k: Int) -> () -> Void {
  let a = random(m * k)
  let b = random(k * n)
  let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
  return {
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0,
      c,
      Int32(n))
  }
}

struct Row {
  let kernel: String
  let shape: String
  let flops: Double
  let tensor: Double
  let raw: Double
  let ratio: Double
}

var rows = [Row]()

for (m, k, n) in [(100, 784, 256), (100, 256, 256), (1000, 784, 256), (256, 256, 256), (1024, 1024, 1024)] {
  let a = Tensor(shape: [m, k], scalars: random(m * k))
  let b = Tensor(shape: [k, n], scalars: random(k * n))
  let timing = compare(tensor: { _ = Tensor.matmul(a, b) }, raw: rawSgemm(m: m, n: n, k: k))
  rows.append(
    Row(
      kernel: "matmul", shape: "(\(m)×\(k))·(\(k)×\(n))", flops: 2 * Double(m * n * k), tensor: timing.tensor,
      raw: timing.raw, ratio: timing.ratio))
}

let convolutions: [(batch: Int, size: Int, cin: Int, cout: Int, k: Int, padding: Padding)] = [
  (100, 28, 1, 32, 3, .same), (100, 14, 32, 64, 3, .same), (100, 28, 1, 16, 5, .valid),
  (100, 7, 64, 128, 3, .same), (100, 14, 32, 32, 1, .valid),
]
for c in convolutions {
  let input = Tensor(
    shape: [c.batch, c.size, c.size, c.cin], scalars: random(c.batch * c.size * c.size * c.cin))
  let kernel = Tensor(shape: [c.k, c.k, c.cin, c.cout], scalars: random(c.k * c.k * c.cin * c.cout))
  let window = Window2D(input: (c.size, c.size), kernel: (c.k, c.k), strides: (1, 1), padding: c.padding)!
  let m = c.batch * window.outputHeight * window.outputWidth
  let kk = c.k * c.k * c.cin
  let timing = compare(
    tensor: { _ = Tensor.conv2d(input, kernel: kernel, padding: c.padding) },
    raw: rawSgemm(m: m, n: c.cout, k: kk))
  rows.append(
    Row(
      kernel: "conv2d",
      shape: "\(c.batch)×\(c.size)×\(c.size)×\(c.cin), \(c.k)×\(c.k)→\(c.cout), \(c.padding)",
      flops: 2 * Double(m * c.cout * kk), tensor: timing.tensor, raw: timing.raw, ratio: timing.ratio))
}

let threads = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] ?? "default"
print("OpenBLAS threads: \(threads); \(ProcessInfo.processInfo.activeProcessorCount) cores\n")
print("| kernel | shape | Tensor (ms) | Tensor GFLOP/s | raw sgemm (ms) | raw GFLOP/s | raw / Tensor |")
print("|---|---|---:|---:|---:|---:|---:|")
for row in rows {
  print(
    "| \(row.kernel) | \(row.shape) | \(String(format: "%.3f", row.tensor * 1e3)) | "
      + "\(String(format: "%.1f", row.flops / row.tensor / 1e9)) | \(String(format: "%.3f", row.raw * 1e3)) | "
      + "\(String(format: "%.1f", row.flops / row.raw / 1e9)) | \(String(format: "%.2f", row.ratio)) |")
}
