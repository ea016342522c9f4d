import Tensor

/// Conv2DTranspose as the ordinary convolution it equals: the input spread out by the strides
/// (`s − 1` zeros between pixels), zero-padded, and correlated with the kernel turned by 180°
/// and its channel axes swapped (Dumoulin & Visin, "A guide to convolution arithmetic for deep
/// learning", 2016, §4).
///
/// Derivation, per axis: the convolution `C` that `Conv2DTranspose` transposes reads input
/// position `o·s − a + j` for output `o` and tap `j` (`a` its top padding), so the transpose
/// writes `y[i] = Σ_{o·s − a + j = i} x[o]·K[j]`. With `x_s` the spread input
/// (`x_s[o·s] = x[o]`) and `j' = k − 1 − j`, `y[i] = Σ_{j'} x_s[i + j' − (k − 1 − a)]·K[k − 1 − j']`:
/// a valid correlation of `x_s` padded by `k − 1 − a` before and `H' + a − (H − 1)·s − 1` after
/// (so that `H'` outputs come out), with the flipped kernel. `C` is Keras's: `valid` (`a = 0`,
/// `H' = (H − 1)·s + k`) or `same` (`H' = H·s`, `a = ⌊max(k − s, 0)/2⌋`).
///
/// The ANN evaluates and differentiates it this way, and conversion decomposes it into the same
/// three nodes (``Op/spread2d(rows:columns:)``, ``Op/zeroPad2d(top:bottom:left:right:)`` and
/// ``Op/conv2d(_:)``), so the spiking network runs what the ANN ran. The spread wastes the
/// multiplications by its zeros (3 in 4 at stride 2); a direct scatter would not.
public enum ConvolutionTranspose {
  /// The output's height and width for an input of `height × width`.
  public static func outputSize(_ a: Conv2DAttributes, height: Int, width: Int) -> [Int] {
    zip([height, width], zip(a.kernelSize, a.strides)).map { size, ks in
      a.padding == .same ? size * ks.1 : (size - 1) * ks.1 + ks.0
    }
  }

  /// The padding of the equivalent convolution's spread input: (top, bottom, left, right).
  public static func padding(_ a: Conv2DAttributes, height: Int, width: Int) -> [Int] {
    let output = outputSize(a, height: height, width: width)
    var sides = [Int]()
    for (axis, size) in [height, width].enumerated() {
      let (k, s) = (a.kernelSize[axis], a.strides[axis])
      let before = a.padding == .same ? max(k - s, 0) / 2 : 0
      sides += [k - 1 - before, output[axis] + before - (size - 1) * s - 1]
    }
    return sides
  }

  /// The ordinary convolution's attributes: the same kernel size, stride 1, no padding.
  public static func convolution(_ a: Conv2DAttributes) -> Conv2DAttributes {
    Conv2DAttributes(filters: a.filters, kernelSize: a.kernelSize, useBias: a.useBias)
  }

  /// The ordinary convolution's kernel `(kH, kW, Cin, filters)` from Conv2DTranspose's
  /// `(kH, kW, filters, Cin)`, turned by 180° with the channel axes swapped — and, the operation
  /// being its own inverse, a `(kH, kW, Cin, filters)` kernel or gradient back in
  /// Conv2DTranspose's layout.
  public static func convolutionKernel<Scalar: TensorScalar>(_ kernel: Tensor<Scalar>) -> Tensor<Scalar> {
    let (kh, kw, first, second) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
    var out = [Scalar](repeating: 0, count: kernel.count)
    for i in 0..<kh {
      for j in 0..<kw {
        for a in 0..<first {
          for b in 0..<second {
            out[(((kh - 1 - i) * kw + (kw - 1 - j)) * second + b) * first + a] =
              kernel.scalars[((i * kw + j) * first + a) * second + b]
          }
        }
      }
    }
    return Tensor(shape: [kh, kw, second, first], scalars: out)
  }

  /// The spread and padding ops the input goes through, for an input of `height × width`.
  public static func inputOps(_ a: Conv2DAttributes, height: Int, width: Int) -> [Op] {
    let pad = padding(a, height: height, width: width)
    return [
      .spread2d(rows: a.strides[0], columns: a.strides[1]),
      .zeroPad2d(top: pad[0], bottom: pad[1], left: pad[2], right: pad[3]),
    ]
  }

  static func forward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, attributes a: Conv2DAttributes, parameters: [String: Tensor<Scalar>]
  ) -> Tensor<Scalar> {
    let spread = inputOps(a, height: x.shape[1], width: x.shape[2]).reduce(x) { Structural.select($1, $0) }
    var converted = parameters
    converted["kernel"] = convolutionKernel(parameters["kernel"]!)
    return Convolution.forward(spread, attributes: convolution(a), parameters: converted)
  }

  /// The input, kernel and bias gradients: the ordinary convolution's, carried back through the
  /// padding and spread (their adjoints) and the kernel's turn.
  static func backward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, _ dy: Tensor<Scalar>, attributes a: Conv2DAttributes,
    parameters: [String: Tensor<Scalar>]
  ) -> OpGradients<Scalar> {
    let ops = inputOps(a, height: x.shape[1], width: x.shape[2])
    let spread = Structural.select(ops[0], x)
    let padded = Structural.select(ops[1], spread)
    var converted = parameters
    converted["kernel"] = convolutionKernel(parameters["kernel"]!)
    let inner = Convolution.backward(padded, dy, attributes: convolution(a), parameters: converted)
    let dSpread = Structural.selectionBackward(ops[1], inner.inputs[0], input: spread)
    let dx = Structural.selectionBackward(ops[0], dSpread, input: x)
    var gradients = inner.parameters
    gradients["kernel"] = convolutionKernel(inner.parameters["kernel"]!)
    return OpGradients(inputs: [dx], parameters: gradients)
  }
}
