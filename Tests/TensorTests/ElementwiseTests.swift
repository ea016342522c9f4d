import Foundation
import Tensor
import TestSupport
import Testing

@Suite struct ElementwiseTests {
  /// Reference values computed with Python's `math` module in double precision
  /// (e.g. `0.5 * x * (1 + math.erf(x / math.sqrt(2)))` for exact GELU).
  static let table: [(UnaryFunction, Double, Double)] = [
    (.relu, -2, 0), (.relu, 0, 0), (.relu, 1.5, 1.5),
    (.leakyRelu(slope: 0.2), -2, -0.4), (.leakyRelu(slope: 0.2), 3, 3),
    (.clippedRelu(maxValue: 6, negativeSlope: 0, threshold: 0), 7, 6),
    (.clippedRelu(maxValue: 6, negativeSlope: 0.5, threshold: 1), 0, -0.5),
    (.clippedRelu(maxValue: nil, negativeSlope: 0.5, threshold: 1), 1, 1),
    (.clippedRelu(maxValue: nil, negativeSlope: 0.5, threshold: 1), 100, 100),
    (.gelu(.exact), 1, 0.8413447460685429), (.gelu(.exact), -1, -0.15865525393145707),
    (.gelu(.tanh), 1, 0.8411919906082768), (.gelu(.sigmoid), 1, 0.8457957659328212),
    (.silu, 1, 0.7310585786300049), (.silu, -2, -0.2384058440442351),
    (.hardSwish, -4, 0), (.hardSwish, -1.5, -0.375), (.hardSwish, 1, 0.6666666666666666), (.hardSwish, 4, 4),
    (.tanh, 0.5, 0.46211715726000974), (.sigmoid, -1, 0.2689414213699951),
    (.softplus, 0, 0.6931471805599453), (.softplus, 2, 2.1269280110429727),
    (.softplus, -30, 9.357622968840175e-14),
    (.elu(alpha: 1), -1, -0.6321205588285577), (.elu(alpha: 0.5), 2, 2),
    (.abs, -3, 3), (.square, -3, 9), (.exp, 1, 2.718281828459045), (.identity, 7, 7),
  ]

  @Test func unaryFunctionsMatchReferenceValuesInDouble() {
    for (function, x, expected) in Self.table {
      let y = function(x)
      #expect(
        abs(y - expected) <= 1e-14 * max(1, abs(expected)), "\(function)(\(x)) = \(y), expected \(expected)")
    }
  }

  @Test func unaryFunctionsMatchInFloatToAFewUlps() {
    for (function, x, expected) in Self.table {
      let y = function(Float(x))
      #expect(
        abs(Double(y) - expected) <= 4 * Double(Float.ulpOfOne) * max(1, abs(expected)), "\(function)(\(x))")
    }
  }

  @Test func extremeInputsNeitherOverflowNorLoseSign() {
    for function: UnaryFunction in [.sigmoid, .silu, .softplus, .gelu(.sigmoid)] {
      for x: Float in [-1e30, -100, 100, 1e30] {
        #expect(function(x).isFinite, "\(function)(\(x)) = \(function(x))")
      }
    }
    #expect(UnaryFunction.sigmoid(Float(-200)) == 0)
    #expect(UnaryFunction.sigmoid(Float(200)) == 1)
    #expect(UnaryFunction.softplus(Float(200)) == 200)
    for function: UnaryFunction in [
      .relu, .leakyRelu(slope: 0.1), .elu(alpha: 1), .gelu(.exact), .silu, .hardSwish, .tanh, .sigmoid,
      .softplus, .exp, .abs,
    ] {
      #expect(function(Double.nan).isNaN, "\(function)(NaN)")
    }
    #expect(UnaryFunction.exp(Double.infinity) == .infinity)
  }

  @Test func binaryFunctions() {
    #expect(BinaryFunction.maximum(2.0, 3.0) == 3)
    #expect(BinaryFunction.maximum(Double.nan, 3.0).isNaN)
    #expect(BinaryFunction.product(2.0, -3.0) == -6)
    #expect(BinaryFunction.division(1.0, 0.0) == .infinity)
    #expect(BinaryFunction.normalize(epsilon: 1e-3)(2.0, 3.999) == 1)
  }

  @Test func tensorMapAndZip() {
    let a = Tensor<Float>(shape: [2, 2], scalars: [-1, 2, -3, 4])
    #expect(a.map(.relu).scalars == [0, 2, 0, 4])
    #expect((a + a).scalars == [-2, 4, -6, 8])
    #expect((a - a).scalars == [0, 0, 0, 0])
    #expect((a * a).scalars == [1, 4, 9, 16])
    #expect((0.5 * a).scalars == [-0.5, 1, -1.5, 2])
    #expect(Tensor.zip(a, a.map(.abs), .maximum).scalars == [1, 2, 3, 4])
  }

  @Test func halfRoundingIsIEEEBinary16() {
    // Values and their binary16 neighbours: 1/3 → 0x3555 = 0.333251953125; 2049 lies halfway
    // between 2048 and 2050 and ties to even (2048); 2051 ties to 2052; 65504 is the largest
    // finite half, 65520 rounds to ∞; 2^-24 is the smallest subnormal, 2^-26 rounds to 0.
    let x = Tensor<Float>(
      shape: [8], scalars: [1.0 / 3, 2049, 2051, 65504, 65520, -65520, 0x1p-24, 0x1p-26])
    let y = x.roundedToHalf()
    #expect(y.scalars == [0.333251953125, 2048, 2052, 65504, .infinity, -.infinity, 0x1p-24, 0])
    #expect(Double.roundedToHalf(0.1) == 0.0999755859375)
    #expect(Float.roundedToHalf(.nan).isNaN)
  }

  /// The bit-level rounding against the conversion through `Float16` it replaces: every 251st
  /// bit pattern (an odd stride, so every exponent and every low-bit pattern is visited), and
  /// all patterns around the boundaries — the subnormal/normal half limit 2⁻¹⁴, the largest
  /// half 65504 and the overflow point 65520, zero, infinity and the NaNs next to it.
  @Test func bitLevelHalfRoundingEqualsTheConversion() {
    var patterns = Array(stride(from: UInt32(0), to: UInt32.max, by: 251))
    for boundary: Float in [0x1p-14, 0x1p-24, 65504, 65520, 0, .infinity] {
      let bits = boundary.bitPattern
      for sign: UInt32 in [0, 0x8000_0000] {
        patterns += (bits - min(bits, 0x2000)...min(bits + 0x2000, 0x7FFF_FFFF)).map { $0 | sign }
      }
    }
    var mismatches = [UInt32]()
    for pattern in patterns {
      let x = Float(bitPattern: pattern)
      if Float.roundedToHalf(x).bitPattern != Float(Float16(x)).bitPattern { mismatches.append(pattern) }
    }
    #expect(patterns.count > 17_000_000)
    #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5).map { String($0, radix: 16) })")
  }
}
