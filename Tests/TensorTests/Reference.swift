import Tensor

/// Plain, obviously-correct loops that the optimized kernels are checked against. They work in
/// Double whatever the tensor type, so they also serve as a higher-precision oracle.
enum Reference {
  static func matmul(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool)
    -> [Double]
  {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        var total = 0.0
        for p in 0..<k {
          let x = transposeA ? a[p * m + i] : a[i * k + p]
          let y = transposeB ? b[j * k + p] : b[p * n + j]
          total += x * y
        }
        c[i * n + j] = total
      }
    }
    return c
  }

  /// Direct convolution with explicit padding arithmetic (TensorFlow's `same` rule).
  static func conv2d(
    _ x: [Double], n: Int, h: Int, w: Int, c: Int, kernel: [Double], kh: Int, kw: Int, cout: Int,
    bias: [Double]?, stride: (Int, Int), same: Bool
  ) -> (values: [Double], oh: Int, ow: Int) {
    let (oh, padTop) = outputAndPad(h, kh, stride.0, same)
    let (ow, padLeft) = outputAndPad(w, kw, stride.1, same)
    var out = [Double](repeating: 0, count: n * oh * ow * cout)
    for b in 0..<n {
      for i in 0..<oh {
        for j in 0..<ow {
          for o in 0..<cout {
            var total = bias?[o] ?? 0
            for di in 0..<kh {
              for dj in 0..<kw {
                let y = i * stride.0 - padTop + di
                let xx = j * stride.1 - padLeft + dj
                guard y >= 0, y < h, xx >= 0, xx < w else { continue }
                for ci in 0..<c {
                  total += x[((b * h + y) * w + xx) * c + ci] * kernel[((di * kw + dj) * c + ci) * cout + o]
                }
              }
            }
            out[((b * oh + i) * ow + j) * cout + o] = total
          }
        }
      }
    }
    return (out, oh, ow)
  }

  static func outputAndPad(_ size: Int, _ k: Int, _ s: Int, _ same: Bool) -> (Int, Int) {
    if !same { return ((size - k) / s + 1, 0) }
    let out = Int((Double(size) / Double(s)).rounded(.up))
    return (out, max((out - 1) * s + k - size, 0) / 2)
  }

  static func pool(
    _ x: [Double], n: Int, h: Int, w: Int, c: Int, k: (Int, Int), stride: (Int, Int), same: Bool, max: Bool
  ) -> [Double] {
    let (oh, padTop) = outputAndPad(h, k.0, stride.0, same)
    let (ow, padLeft) = outputAndPad(w, k.1, stride.1, same)
    var out = [Double]()
    for b in 0..<n {
      for i in 0..<oh {
        for j in 0..<ow {
          for ci in 0..<c {
            var values = [Double]()
            for di in 0..<k.0 {
              for dj in 0..<k.1 {
                let y = i * stride.0 - padTop + di
                let xx = j * stride.1 - padLeft + dj
                if y >= 0, y < h, xx >= 0, xx < w { values.append(x[((b * h + y) * w + xx) * c + ci]) }
              }
            }
            out.append(max ? values.max()! : values.reduce(0, +) / Double(values.count))
          }
        }
      }
    }
    return out
  }
}
