import Tensor
import TestSupport
import Testing

@Suite struct LinearAlgebraTests {
  @Test(arguments: [(1, 1, 1), (3, 5, 7), (17, 1, 33), (64, 65, 63), (2, 9, 0), (0, 4, 3)])
  func matmulMatchesReferenceForEveryTransposeInFloat(m: Int, n: Int, k: Int) {
    var rng = SeededRandom(seed: 11)
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
      let a: [Float] = rng.uniform(m * k)
      let b: [Float] = rng.uniform(k * n)
      let product = Tensor.matmul(
        Tensor(shape: ta ? [k, m] : [m, k], scalars: a), Tensor(shape: tb ? [n, k] : [k, n], scalars: b),
        transposeA: ta, transposeB: tb)
      #expect(product.shape == [m, n])
      let expected = Reference.matmul(
        a.map(Double.init), b.map(Double.init), m: m, n: n, k: k, transposeA: ta, transposeB: tb)
      assertClose(product.scalars, expected.map { Float($0) }, rtol: 1e-5, atol: 1e-5, "ta \(ta) tb \(tb)")
    }
  }

  @Test func matmulInDoubleIsExactToRounding() {
    var rng = SeededRandom(seed: 12)
    let (m, n, k) = (31, 29, 37)
    let a: [Double] = rng.uniform(m * k)
    let b: [Double] = rng.uniform(k * n)
    let product = Tensor.matmul(Tensor(shape: [m, k], scalars: a), Tensor(shape: [k, n], scalars: b))
    let expected = Reference.matmul(a, b, m: m, n: n, k: k, transposeA: false, transposeB: false)
    assertClose(product.scalars, expected, rtol: 1e-13, atol: 1e-13)
  }

  @Test func denseAddsBiasToEveryRowAndKeepsLeadingAxes() {
    let x = Tensor<Float>(shape: [2, 1, 3], scalars: [1, 2, 3, 4, 5, 6])
    let w = Tensor<Float>(shape: [3, 2], scalars: [1, 0, 0, 1, 1, 1])
    let y = Tensor.dense(x, weight: w, bias: Tensor(shape: [2], scalars: [10, 20]))
    #expect(y.shape == [2, 1, 2])
    #expect(y.scalars == [14, 25, 20, 31])
  }

  @Test(arguments: [
    // (n, h, w, c, kh, kw, cout, stride, same)
    (2, 7, 5, 3, 3, 3, 4, 1, false), (2, 7, 5, 3, 3, 3, 4, 1, true), (1, 8, 8, 2, 3, 2, 5, 2, true),
    (3, 9, 6, 1, 4, 4, 2, 3, true), (1, 6, 7, 4, 1, 1, 3, 1, false), (2, 5, 5, 2, 1, 1, 3, 2, true),
    (1, 4, 4, 1, 4, 4, 1, 1, false), (5, 28, 28, 1, 5, 5, 8, 1, true),
    // Channels in fours take the vector copy of im2col: inside, over the padding, strided.
    (2, 7, 6, 8, 3, 3, 5, 1, false), (2, 7, 6, 8, 3, 3, 5, 1, true), (1, 9, 8, 4, 3, 2, 3, 2, true),
    (2, 6, 5, 12, 4, 4, 2, 3, true), (3, 13, 13, 8, 3, 3, 16, 2, false),
  ])
  func conv2dMatchesDirectConvolution(
    n: Int, h: Int, w: Int, c: Int, kh: Int, kw: Int, cout: Int, stride: Int, same: Bool
  ) {
    var rng = SeededRandom(seed: UInt64(n * 1000 + h * 10 + kh))
    let x: [Float] = rng.uniform(n * h * w * c)
    let k: [Float] = rng.uniform(kh * kw * c * cout)
    let bias: [Float] = rng.uniform(cout)
    let y = Tensor.conv2d(
      Tensor(shape: [n, h, w, c], scalars: x), kernel: Tensor(shape: [kh, kw, c, cout], scalars: k),
      bias: Tensor(shape: [cout], scalars: bias), strides: (stride, stride), padding: same ? .same : .valid)
    let expected = Reference.conv2d(
      x.map(Double.init), n: n, h: h, w: w, c: c, kernel: k.map(Double.init), kh: kh, kw: kw, cout: cout,
      bias: bias.map(Double.init), stride: (stride, stride), same: same)
    #expect(y.shape == [n, expected.oh, expected.ow, cout])
    assertClose(y.scalars, expected.values.map { Float($0) }, rtol: 1e-5, atol: 1e-5)
  }

  @Test func conv2dWithUnequalStridesInDouble() {
    var rng = SeededRandom(seed: 5)
    let x: [Double] = rng.uniform(2 * 9 * 7 * 3)
    let k: [Double] = rng.uniform(3 * 2 * 3 * 2)
    let y = Tensor.conv2d(
      Tensor(shape: [2, 9, 7, 3], scalars: x), kernel: Tensor(shape: [3, 2, 3, 2], scalars: k),
      strides: (2, 3), padding: .same)
    let (oh, top) = Reference.outputAndPad(9, 3, 2, true)
    let (ow, _) = Reference.outputAndPad(7, 2, 3, true)
    #expect(y.shape == [2, oh, ow, 2] && top == 1)
    // Spot-check against a direct sum built with the same rule for each stride separately.
    let direct = Reference.conv2d(
      x, n: 2, h: 9, w: 7, c: 3, kernel: k, kh: 3, kw: 2, cout: 2, bias: nil, stride: (2, 3), same: true)
    assertClose(y.scalars, direct.values, rtol: 1e-12, atol: 1e-12)
  }

  @Test func conv2dOverChannelsInFoursInDouble() {
    var rng = SeededRandom(seed: 6)
    let x: [Double] = rng.uniform(2 * 9 * 7 * 8)
    let k: [Double] = rng.uniform(3 * 2 * 8 * 3)
    let y = Tensor.conv2d(
      Tensor(shape: [2, 9, 7, 8], scalars: x), kernel: Tensor(shape: [3, 2, 8, 3], scalars: k),
      strides: (2, 3), padding: .same)
    let direct = Reference.conv2d(
      x, n: 2, h: 9, w: 7, c: 8, kernel: k, kh: 3, kw: 2, cout: 3, bias: nil, stride: (2, 3), same: true)
    #expect(y.shape == [2, direct.oh, direct.ow, 3])
    assertClose(y.scalars, direct.values, rtol: 1e-12, atol: 1e-12)
  }

  @Test func windowGeometryFollowsTensorFlow() {
    let same = Window2D(input: (28, 28), kernel: (3, 3), strides: (2, 2), padding: .same)!
    #expect((same.outputHeight, same.padTop) == (14, 0))
    let odd = Window2D(input: (5, 5), kernel: (4, 4), strides: (1, 1), padding: .same)!
    #expect((odd.outputHeight, odd.padTop, odd.padLeft) == (5, 1, 1))
    #expect(Window2D(input: (2, 2), kernel: (3, 3), strides: (1, 1), padding: .valid) == nil)
    #expect(Window2D(input: (2, 2), kernel: (3, 3), strides: (0, 1), padding: .same) == nil)
  }
}
