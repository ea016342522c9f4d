import Foundation
import Tensor
import TestSupport
import Testing

@Suite struct PoolingAndReductionTests {
  @Test(arguments: [
    (2, 6, 6, 3, 2, 2, 2, false), (1, 7, 5, 2, 2, 2, 2, true), (2, 7, 7, 1, 3, 3, 2, true),
    (1, 5, 8, 2, 3, 2, 1, false), (1, 3, 3, 1, 3, 3, 3, true),
  ])
  func poolingMatchesReference(n: Int, h: Int, w: Int, c: Int, kh: Int, kw: Int, stride: Int, same: Bool) {
    var rng = SeededRandom(seed: UInt64(h * 100 + w))
    let x: [Float] = rng.uniform(n * h * w * c, in: -3...1)
    for max in [true, false] {
      let y = Tensor.pool2d(
        Tensor(shape: [n, h, w, c], scalars: x), mode: max ? .max : .average, size: (kh, kw),
        strides: (stride, stride), padding: same ? .same : .valid)
      let expected = Reference.pool(
        x.map(Double.init), n: n, h: h, w: w, c: c, k: (kh, kw), stride: (stride, stride), same: same,
        max: max)
      assertClose(y.scalars, expected.map { Float($0) }, rtol: 1e-6, atol: 1e-6, "max \(max)")
    }
  }

  @Test func poolingStridesDefaultToTheWindowAndNaNPropagates() {
    let x = Tensor<Float>(shape: [1, 2, 4, 1], scalars: [1, 2, 3, .nan, 5, 6, 7, 8])
    let y = Tensor.pool2d(x, mode: .max, size: (2, 2))
    #expect(y.shape == [1, 1, 2, 1])
    #expect(y.scalars[0] == 6)
    #expect(y.scalars[1].isNaN)
  }

  /// Channels in multiples of four take a vector path (and, where every window lies inside the
  /// image, one without clipping); it must give the bits the one-channel (scalar) path gives for
  /// each channel alone — NaN, ±0 ties and infinities included.
  @Test(
    arguments: [PoolingMode.max, .average],
    [
      (2, 3, 2, 2, Padding.same), (2, 2, 2, 2, .valid), (3, 3, 1, 1, .valid), (2, 3, 1, 2, .valid),
    ])
  func vectorPathMatchesEachChannelAlone(mode: PoolingMode, window: (Int, Int, Int, Int, Padding)) {
    let (kh, kw, sh, sw, padding) = window
    let (n, h, w, c) = (2, 5, 6, 8)
    var rng = SeededRandom(seed: 11)
    var x: [Float] = rng.uniform(n * h * w * c, in: -2...2)
    for (i, special) in [Float.nan, 0, -0.0, .infinity, -.infinity, 0, -0.0].enumerated() {
      x[(i * 13) % x.count] = special
    }
    // Image 0, channel 1, first window (rows 0–1, columns 0–2): a tie of −0 and +0 for the max.
    for row in 0..<2 { for column in 0..<3 { x[(row * w + column) * c + 1] = -1 } }
    x[1] = -0.0
    x[1 + c] = 0
    let together = Tensor.pool2d(
      Tensor(shape: [n, h, w, c], scalars: x), mode: mode, size: (kh, kw), strides: (sh, sw), padding: padding
    )
    for channel in 0..<c {
      let alone = Tensor.pool2d(
        Tensor(shape: [n, h, w, 1], scalars: stride(from: channel, to: x.count, by: c).map { x[$0] }),
        mode: mode, size: (kh, kw), strides: (sh, sw), padding: padding)
      let picked = stride(from: channel, to: together.scalars.count, by: c).map { together.scalars[$0] }
      #expect(picked.map(\.bitPattern) == alone.scalars.map(\.bitPattern), "channel \(channel)")
    }
  }

  @Test func globalAveragePoolAveragesEachChannel() {
    let x = Tensor<Double>(shape: [1, 2, 2, 2], scalars: [1, 10, 2, 20, 3, 30, 4, 40])
    #expect(Tensor.globalAveragePool2d(x).scalars == [2.5, 25])
  }

  @Test func reductionsAlongEveryAxis() {
    var rng = SeededRandom(seed: 3)
    let shape = [3, 4, 5]
    let x = Tensor<Double>(shape: shape, scalars: rng.uniform(60))
    for axis in 0..<3 {
      let strides = Tensor<Double>.strides(of: shape)
      let outShape = shape.enumerated().filter { $0.offset != axis }.map(\.element)
      var sums = [Double](repeating: 0, count: 60 / shape[axis])
      var maxima = [Double](repeating: -.infinity, count: sums.count)
      for flat in 0..<60 {
        let index = (0..<3).map { (flat / strides[$0]) % shape[$0] }
        let kept = index.enumerated().filter { $0.offset != axis }.map(\.element)
        let slot = kept[0] * outShape[1] + kept[1]
        sums[slot] += x.scalars[flat]
        maxima[slot] = Swift.max(maxima[slot], x.scalars[flat])
      }
      assertClose(x.reduce(.sum, axis: axis).scalars, sums, rtol: 1e-12)
      assertClose(x.reduce(.mean, axis: axis).scalars, sums.map { $0 / Double(shape[axis]) }, rtol: 1e-12)
      #expect(x.reduce(.max, axis: axis).scalars == maxima)
      #expect(x.reduce(.min, axis: axis - 3, keepingDimension: true).shape[axis] == 1)
    }
  }

  @Test func reductionEdgeCases() {
    let empty = Tensor<Float>(zeros: [2, 0])
    #expect(empty.reduce(.sum, axis: 1).scalars == [0, 0])
    #expect(empty.reduce(.mean, axis: 1).scalars.allSatisfy { $0.isNaN })
    #expect(empty.reduce(.max, axis: 1).scalars == [-.infinity, -.infinity])
    let withNaN = Tensor<Float>(shape: [3], scalars: [1, .nan, 2])
    #expect(withNaN.reduce(.max, axis: 0).scalars[0].isNaN)
    #expect(withNaN.reduce(.min, axis: 0).scalars[0].isNaN)
  }

  @Test func argmaxTakesTheFirstOfTies() {
    let x = Tensor<Float>(shape: [3, 3], scalars: [1, 3, 3, .nan, 0, -1, -5, -5, -5])
    #expect(x.argmaxLastAxis() == [1, 1, 0])
  }

  @Test func softmaxIsStableAndNormalized() {
    let x = Tensor<Float>(shape: [2, 3], scalars: [1000, 1001, 1002, -1, 0, 1])
    let y = x.softmaxLastAxis()
    let e = [exp(-2.0), exp(-1.0), 1.0]
    let total = e.reduce(0, +)
    assertClose(y.scalars, (e + e).map { Float($0 / total) }, rtol: 1e-6)
  }

  /// Every shift, negative and beyond the width included, moves element `(j + shift) mod width`
  /// of each row to position `j`.
  @Test(arguments: [-6, -1, 0, 1, 2, 4, 5, 11])
  func rotationShiftsEachRowCyclically(shift: Int) {
    let width = 5
    let x: [Float] = (0..<15).map { Float($0 * $0) }
    var y = [Float](repeating: .nan, count: 15)
    x.withUnsafeBufferPointer { input in
      y.withUnsafeMutableBufferPointer { output in
        Tensor<Float>.lastAxisRotation(input, count: 15, width: width, shift: shift, into: output)
      }
    }
    let expected = (0..<15).map { i -> Float in
      let row = i / width
      let column = ((i % width + shift) % width + width) % width
      return x[row * width + column]
    }
    #expect(y == expected)
  }

  @Test func permuteAndConcatenate() {
    let x = Tensor<Float>(shape: [1, 2, 3, 2], scalars: (0..<12).map(Float.init))
    let nchw = x.permuted([0, 3, 1, 2])
    #expect(nchw.shape == [1, 2, 2, 3])
    #expect(nchw.scalars == [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11])
    #expect(nchw.permuted([0, 2, 3, 1]) == x)
    let a = Tensor<Float>(shape: [2, 1], scalars: [1, 2])
    let b = Tensor<Float>(shape: [2, 2], scalars: [3, 4, 5, 6])
    #expect(Tensor.concatenate([a, b], axis: 1).scalars == [1, 3, 4, 2, 5, 6])
    #expect(Tensor.concatenate([b, b], axis: 0).shape == [4, 2])
    #expect(b.rows(1..<2).scalars == [5, 6])
    #expect(b.gatherRows([1, 0, 1]).scalars == [5, 6, 3, 4, 5, 6])
  }
}

/// The max-pooling gradient (2×2 windows take a branch-free path) against a direct
/// reference: the first (or last) element of each window equal to its maximum gets the whole
/// gradient, bit for bit, with ties, NaN and ±0 among the inputs and overlapping windows.
@Suite struct MaxPoolGradientTests {
  @Test(
    arguments: [MaxTieRule.first, .last],
    [(2, 2, 2, 2, Padding.valid), (2, 2, 1, 1, .valid), (2, 2, 2, 2, .same), (3, 2, 2, 1, .valid)])
  func maxPoolGradientRoutesToTheTieRulesElement(tie: MaxTieRule, window: (Int, Int, Int, Int, Padding)) {
    let (kh, kw, sh, sw, padding) = window
    let (n, h, w, c) = (2, 5, 6, 8)
    var rng = SeededRandom(seed: 17)
    let choices: [Float] = [-1, 0, -0.0, 1, 2, .nan]
    let x = (0..<(n * h * w * c)).map { _ in choices[Int(rng.next() % UInt64(choices.count))] }
    let input = Tensor(shape: [n, h, w, c], scalars: x)
    let output = Tensor.pool2d(input, mode: .max, size: (kh, kw), strides: (sh, sw), padding: padding)
    let dy: [Float] = rng.uniform(output.count)
    let dx = Tensor.pool2dBackward(
      input: input, output: output, outputGradient: Tensor(shape: output.shape, scalars: dy), mode: .max,
      size: (kh, kw), strides: (sh, sw), padding: padding, tie: tie)
    let geometry = Window2D(input: (h, w), kernel: (kh, kw), strides: (sh, sw), padding: padding)!
    var expected = [Float](repeating: 0, count: x.count)
    var slot = 0
    for image in 0..<n {
      for oh in 0..<geometry.outputHeight {
        for ow in 0..<geometry.outputWidth {
          let rows = geometry.inputRows(forOutputRow: oh)
          let columns = geometry.inputColumns(forOutputColumn: ow)
          var order = rows.flatMap { r in columns.map { (r, $0) } }
          if tie == .last { order.reverse() }
          for channel in 0..<c {
            let best = output.scalars[slot + channel]
            if let (r, col) = order.first(where: { x[((image * h + $0.0) * w + $0.1) * c + channel] == best })
            {
              expected[((image * h + r) * w + col) * c + channel] += dy[slot + channel]
            }
          }
          slot += c
        }
      }
    }
    #expect(dx.scalars.map(\.bitPattern) == expected.map(\.bitPattern))
  }
}
