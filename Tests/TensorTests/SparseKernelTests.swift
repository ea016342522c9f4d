import Tensor
import TestSupport
import Testing

/// The kernels that visit only an input's nonzero entries against direct sums in Double.
@Suite struct SparseKernelTests {
  /// `count` values of which about `density` are nonzero (uniform in ±1), the rest exactly 0.
  static func sparse(_ count: Int, density: Double, seed: UInt64) -> [Float] {
    var rng = SeededRandom(seed: seed)
    let values: [Float] = rng.uniform(count)
    let keep: [Double] = rng.uniform(count, in: 0...1)
    return zip(values, keep).map { $1 < density ? $0 : 0 }
  }

  @Test(arguments: [(0.0, 3, 17, 9), (0.1, 3, 17, 9), (0.5, 2, 40, 33), (1.0, 1, 5, 1), (0.2, 0, 4, 3)])
  func denseAddingNonzerosAddsTheProduct(density: Double, rows: Int, inputWidth: Int, outputWidth: Int) {
    let x = Self.sparse(rows * inputWidth, density: density, seed: 3)
    var rng = SeededRandom(seed: 4)
    let w: [Float] = rng.uniform(inputWidth * outputWidth)
    let start: [Float] = rng.uniform(rows * outputWidth)
    var y = start
    x.withUnsafeBufferPointer { x in
      w.withUnsafeBufferPointer { w in
        y.withUnsafeMutableBufferPointer { y in
          Tensor.denseAddingNonzeros(
            x, rows: rows, weight: w, inputWidth: inputWidth, outputWidth: outputWidth, into: y)
        }
      }
    }
    var expected = start.map(Double.init)
    for r in 0..<rows {
      for j in 0..<outputWidth {
        for i in 0..<inputWidth {
          expected[r * outputWidth + j] += Double(x[r * inputWidth + i]) * Double(w[i * outputWidth + j])
        }
      }
    }
    assertClose(y, expected.map { Float($0) }, rtol: 1e-5, atol: 1e-5)
  }

  @Test(
    arguments: [
      // (n, h, w, c, kh, kw, cout, stride h, stride w, same, density)
      (2, 7, 5, 3, 3, 3, 4, 1, 1, false, 0.2), (2, 7, 5, 3, 3, 3, 4, 1, 1, true, 0.2),
      (1, 8, 8, 2, 3, 2, 5, 2, 2, true, 0.5), (3, 9, 6, 1, 4, 4, 2, 3, 3, true, 1.0),
      (2, 9, 7, 3, 3, 2, 2, 2, 3, true, 0.3), (1, 6, 7, 4, 1, 1, 3, 1, 1, false, 0.1),
      (2, 5, 5, 2, 1, 1, 3, 2, 2, true, 0.4), (1, 4, 4, 1, 4, 4, 1, 1, 1, false, 0.6),
      (2, 10, 9, 4, 2, 4, 6, 2, 2, false, 0.0),
    ] as [(Int, Int, Int, Int, Int, Int, Int, Int, Int, Bool, Double)])
  func conv2dAddingNonzerosAddsTheConvolution(
    n: Int, h: Int, w: Int, c: Int, kh: Int, kw: Int, cout: Int, sh: Int, sw: Int, same: Bool, density: Double
  ) {
    let window = Window2D(input: (h, w), kernel: (kh, kw), strides: (sh, sw), padding: same ? .same : .valid)!
    let x = Self.sparse(n * h * w * c, density: density, seed: UInt64(n * 100 + h + kh))
    var rng = SeededRandom(seed: 9)
    let k: [Float] = rng.uniform(kh * kw * c * cout)
    let outputCount = n * window.outputHeight * window.outputWidth * cout
    let start: [Float] = rng.uniform(outputCount)
    var y = start
    x.withUnsafeBufferPointer { x in
      k.withUnsafeBufferPointer { k in
        y.withUnsafeMutableBufferPointer { y in
          Tensor.conv2dAddingNonzeros(
            x, images: n, channels: c, window: window, kernel: k, outChannels: cout, into: y)
        }
      }
    }
    let direct = Reference.conv2d(
      x.map(Double.init), n: n, h: h, w: w, c: c, kernel: k.map(Double.init), kh: kh, kw: kw, cout: cout,
      bias: nil, stride: (sh, sw), same: same)
    #expect(direct.values.count == outputCount)
    assertClose(y, zip(start, direct.values).map { Float(Double($0) + $1) }, rtol: 1e-5, atol: 1e-5)
  }

  @Test func nonzeroCountCountsNaNAndNegativeZeroAsWhatTheyAre() {
    let values: [Float] = [0, -0.0, 1, .nan, -2, 0, .infinity] + [Float](repeating: 0.5, count: 37)
    #expect(values.withUnsafeBufferPointer { Tensor.nonzeroCount($0) } == 4 + 37)
  }
}
