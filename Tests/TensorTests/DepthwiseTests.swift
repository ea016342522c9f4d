import Tensor
import TestSupport
import Testing

/// The depthwise convolution against the direct sum of the same convolution written as an
/// ordinary one (zeros for every channel outside a filter's group).
struct DepthwiseTests {
  @Test(arguments: [
    // n, h, w, channels, multiplier, kh, kw, stride, same
    (2, 7, 6, 8, 1, 3, 3, 1, true), (1, 9, 8, 5, 1, 3, 3, 2, true), (2, 6, 5, 3, 2, 3, 2, 1, false),
    (1, 8, 8, 4, 3, 5, 5, 2, true), (3, 5, 7, 6, 1, 1, 1, 1, false), (1, 4, 4, 2, 1, 4, 4, 1, true),
  ])
  func depthwiseMatchesTheOrdinaryConvolution(
    n: Int, h: Int, w: Int, c: Int, m: Int, kh: Int, kw: Int, stride: Int, same: Bool
  ) throws {
    var rng = SeededRandom(seed: UInt64(n * 1000 + h * 10 + c + m))
    let filters = c * m
    let x: [Float] = rng.uniform(n * h * w * c)
    let k: [Float] = rng.uniform(kh * kw * filters)
    let bias: [Float] = rng.uniform(filters)
    var dense = [Double](repeating: 0, count: kh * kw * c * filters)
    for tap in 0..<(kh * kw) {
      for f in 0..<filters { dense[(tap * c + f / m) * filters + f] = Double(k[tap * filters + f]) }
    }
    let expected = Reference.conv2d(
      x.map(Double.init), n: n, h: h, w: w, c: c, kernel: dense, kh: kh, kw: kw, cout: filters,
      bias: bias.map(Double.init), stride: (stride, stride), same: same)
    let window = try #require(
      Window2D(input: (h, w), kernel: (kh, kw), strides: (stride, stride), padding: same ? .same : .valid))
    #expect((window.outputHeight, window.outputWidth) == (expected.oh, expected.ow))
    var y = [Float](repeating: .nan, count: n * expected.oh * expected.ow * filters)
    x.withUnsafeBufferPointer { x in
      k.withUnsafeBufferPointer { k in
        bias.withUnsafeBufferPointer { b in
          y.withUnsafeMutableBufferPointer { y in
            Tensor<Float>.depthwiseConv2d(
              x, images: n, channels: c, multiplier: m, window: window, kernel: k, bias: b, into: y)
          }
        }
      }
    }
    assertClose(y, expected.values.map { Float($0) }, rtol: 1e-5, atol: 1e-5)
  }
}
