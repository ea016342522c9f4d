/// Forward kernels that write into caller-owned buffers.
///
/// The value-returning ops (`conv2d`, `pool2d`, `layerNormalized` …) allocate their result and
/// call these; a time-stepped simulator calls them directly on buffers it allocated once, so
/// that a step allocates nothing. Every kernel takes a batch in row-major, channels-last layout
/// and reads only `input`, so `input` and `output` must not overlap unless a kernel says so.
extension Tensor {
  /// How many scalars of column buffer ``conv2d(_:images:channels:window:kernel:outChannels:columns:into:beta:)``
  /// uses for `images` images: enough for a chunk of images whose columns fill about 1 MiB
  /// (at least one image), 0 for a pointwise convolution, which needs none.
  public static func conv2dColumnsCapacity(images: Int, channels: Int, window: Window2D) -> Int {
    if isPointwise(window) { return 0 }
    let perImage =
      window.outputHeight * window.outputWidth * window.kernelHeight * window.kernelWidth * channels
    return max(1, min(images, (1 << 18) / max(perImage, 1))) * perImage
  }

  static func isPointwise(_ window: Window2D) -> Bool {
    window.kernelHeight == 1 && window.kernelWidth == 1 && window.strideHeight == 1 && window.strideWidth == 1
  }

  /// `output ← conv(input, kernel) + β·output` (no bias) for `images` channels-last images,
  /// as im2col and one GEMM per chunk of images.
  /// - Parameters:
  ///   - kernel: `(kH, kW, channels, outChannels)`.
  ///   - columns: scratch of at least ``conv2dColumnsCapacity(images:channels:window:)`` scalars
  ///     for one image (the chunk size follows from its size).
  ///   - beta: 0 to overwrite `output`, 1 to accumulate into it.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func conv2d(
    _ input: UnsafeBufferPointer<Scalar>, images: Int, channels: Int, window: Window2D,
    kernel: UnsafeBufferPointer<Scalar>, outChannels: Int, columns: UnsafeMutableBufferPointer<Scalar>,
    into output: UnsafeMutableBufferPointer<Scalar>, beta: Scalar
  ) {
    let positions = window.outputHeight * window.outputWidth
    let rowLength = window.kernelHeight * window.kernelWidth * channels
    precondition(
      input.count >= images * window.inputHeight * window.inputWidth * channels
        && output.count >= images * positions * outChannels && kernel.count == rowLength * outChannels,
      "conv2d buffers too small for \(images) images")
    if isPointwise(window) {
      gemm(
        transposeA: false, transposeB: false, m: images * positions, n: outChannels, k: rowLength, alpha: 1,
        a: input, lda: rowLength, b: kernel, ldb: outChannels, beta: beta, c: output, ldc: outChannels)
      return
    }
    let perImage = positions * rowLength
    precondition(columns.count >= perImage, "conv2d column buffer of \(columns.count) < \(perImage)")
    let imagesPerChunk = columns.count / perImage
    var first = 0
    while first < images {
      let count = min(imagesPerChunk, images - first)
      im2col(input, channels: channels, window: window, first: first, count: count, into: columns)
      let target = UnsafeMutableBufferPointer(
        rebasing: output[(first * positions * outChannels)..<((first + count) * positions * outChannels)])
      gemm(
        transposeA: false, transposeB: false, m: count * positions, n: outChannels, k: rowLength, alpha: 1,
        a: UnsafeBufferPointer(columns), lda: rowLength, b: kernel, ldb: outChannels, beta: beta, c: target,
        ldc: outChannels)
      first += count
    }
  }

  /// `output ← input · weight + β·output` for `rows` rows of `inputWidth` (no bias).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func dense(
    _ input: UnsafeBufferPointer<Scalar>, rows: Int, weight: UnsafeBufferPointer<Scalar>, inputWidth: Int,
    outputWidth: Int, into output: UnsafeMutableBufferPointer<Scalar>, beta: Scalar
  ) {
    precondition(
      input.count >= rows * inputWidth && output.count >= rows * outputWidth
        && weight.count == inputWidth * outputWidth, "dense buffers too small for \(rows) rows")
    gemm(
      transposeA: false, transposeB: false, m: rows, n: outputWidth, k: inputWidth, alpha: 1, a: input,
      lda: inputWidth, b: weight, ldb: outputWidth, beta: beta, c: output, ldc: outputWidth)
  }

  /// Max or average pooling of `images` channels-last images into `output`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func pool2d(
    _ input: UnsafeBufferPointer<Scalar>, images: Int, channels: Int, window: Window2D, mode: PoolingMode,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    let imageSize = window.inputHeight * window.inputWidth * channels
    precondition(
      input.count >= images * imageSize
        && output.count >= images * window.outputHeight * window.outputWidth * channels,
      "pool2d buffers too small for \(images) images")
    guard images > 0, channels > 0, window.outputHeight > 0, window.outputWidth > 0 else { return }
    switch mode {
    case .max:
      poolRows(PoolMaximum.self, input, images: images, channels: channels, window: window, into: output)
    case .average:
      poolRows(PoolSum.self, input, images: images, channels: channels, window: window, into: output)
    }
  }

  /// The pooling loop for one way of combining a window (its start value and combination).
  /// Each output pixel's channels are accumulated in registers, four at a time where they
  /// divide, over the window's input rows in order and within each its columns in order: for
  /// each output element the same sequence of operations as the plain definition, so the same
  /// result.
  @inline(__always)
  static func poolRows<C: PoolCombination>(
    _: C.Type, _ input: UnsafeBufferPointer<Scalar>, images: Int, channels: Int, window: Window2D,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    let x = input.baseAddress!
    let y = output.baseAddress!
    let imageSize = window.inputHeight &* window.inputWidth &* channels
    let inputRowWidth = window.inputWidth &* channels
    let vectors = channels & 3 == 0
    if vectors && window.padTop == 0 && window.padLeft == 0
      && (window.outputHeight - 1) * window.strideHeight + window.kernelHeight <= window.inputHeight
      && (window.outputWidth - 1) * window.strideWidth + window.kernelWidth <= window.inputWidth
    {
      return poolFullWindows(C.self, x, images: images, channels: channels, window: window, into: y)
    }
    var out = y
    for n in 0..<images {
      let image = x + n &* imageSize
      for oh in 0..<window.outputHeight {
        let rows = window.inputRows(forOutputRow: oh)
        for ow in 0..<window.outputWidth {
          let columns = window.inputColumns(forOutputColumn: ow)
          let corner = image + columns.lowerBound &* channels
          let divisor = Scalar(rows.count &* columns.count)
          var c = 0
          if vectors {
            while c < channels {
              var total = SIMD4<Scalar>(repeating: C.start())
              for ih in rows {
                var pixel = corner + (ih &* inputRowWidth &+ c)
                for _ in columns {
                  total = C.combine(total, UnsafeRawPointer(pixel).loadUnaligned(as: SIMD4<Scalar>.self))
                  pixel += channels
                }
              }
              if C.divides { total /= SIMD4(repeating: divisor) }
              UnsafeMutableRawPointer(out + c).storeBytes(of: total, as: SIMD4<Scalar>.self)
              c &+= 4
            }
          } else {
            while c < channels {
              var total: Scalar = C.start()
              for ih in rows {
                var pixel = corner + (ih &* inputRowWidth &+ c)
                for _ in columns {
                  total = C.combine(total, pixel.pointee)
                  pixel += channels
                }
              }
              if C.divides { total /= divisor }
              out[c] = total
              c &+= 1
            }
          }
          out += channels
        }
      }
    }
  }

  /// ``poolRows(_:_:images:channels:window:into:)`` where every window lies wholly inside the
  /// image and channels come in fours: fixed trip counts and no clipping per output pixel (the
  /// per-pixel range arithmetic cost more than the few vector adds of a small window), the
  /// elements combined in the same order, so the same bits. A division by a power of two is a
  /// multiplication by its exact reciprocal.
  static func poolFullWindows<C: PoolCombination>(
    _: C.Type, _ x: UnsafePointer<Scalar>, images: Int, channels: Int, window: Window2D,
    into y: UnsafeMutablePointer<Scalar>
  ) {
    let inputRowWidth = window.inputWidth &* channels
    let imageSize = window.inputHeight &* inputRowWidth
    let kH = window.kernelHeight
    let kW = window.kernelWidth
    let size = kH &* kW
    let exact = size & (size &- 1) == 0
    let divisor = SIMD4<Scalar>(repeating: Scalar(size))
    let reciprocal = SIMD4<Scalar>(repeating: 1 / Scalar(size))
    let rowStep = window.strideHeight &* inputRowWidth
    let columnStep = window.strideWidth &* channels
    var out = y
    var n = 0
    while n < images {
      var rowStart = x + n &* imageSize
      var oh = 0
      while oh < window.outputHeight {
        var corner = rowStart
        var ow = 0
        while ow < window.outputWidth {
          var c = 0
          if kH == 2 && kW == 2 {
            // The common 2×2 window unrolled (same elements, same order).
            while c < channels {
              func load(_ p: UnsafePointer<Scalar>) -> SIMD4<Scalar> {
                UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Scalar>.self)
              }
              let top = corner + c
              let bottom = top + inputRowWidth
              var total = C.combine(SIMD4<Scalar>(repeating: C.start()), load(top))
              total = C.combine(total, load(top + channels))
              total = C.combine(total, load(bottom))
              total = C.combine(total, load(bottom + channels))
              if C.divides { total = total * reciprocal }
              UnsafeMutableRawPointer(out + c).storeBytes(of: total, as: SIMD4<Scalar>.self)
              c &+= 4
            }
          }
          while c < channels {
            var total = SIMD4<Scalar>(repeating: C.start())
            var row = corner + c
            var i = 0
            while i < kH {
              var pixel = row
              var j = 0
              while j < kW {
                total = C.combine(total, UnsafeRawPointer(pixel).loadUnaligned(as: SIMD4<Scalar>.self))
                pixel += channels
                j &+= 1
              }
              row += inputRowWidth
              i &+= 1
            }
            if C.divides { total = exact ? total * reciprocal : total / divisor }
            UnsafeMutableRawPointer(out + c).storeBytes(of: total, as: SIMD4<Scalar>.self)
            c &+= 4
          }
          out += channels
          corner += columnStep
          ow &+= 1
        }
        rowStart += rowStep
        oh &+= 1
      }
      n &+= 1
    }
  }

  /// The mean over height and width of `images` channels-last images of `positions` pixels.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func globalAveragePool2d(
    _ input: UnsafeBufferPointer<Scalar>, images: Int, positions: Int, channels: Int,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    precondition(
      input.count >= images * positions * channels && output.count >= images * channels,
      "global pooling buffers too small for \(images) images")
    for n in 0..<images {
      let out = UnsafeMutableBufferPointer(rebasing: output[(n &* channels)..<((n &+ 1) &* channels)])
      out.update(repeating: 0)
      for p in 0..<positions {
        let base = (n &* positions &+ p) &* channels
        for c in 0..<channels { out[c] += input[base &+ c] }
      }
      for c in 0..<channels { out[c] /= Scalar(positions) }
    }
  }

  /// `output[i] = input[i]·scale[c] + shift[c]` with `c` the position on the last axis of width
  /// `scale.count`; `input` may be `output`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func affinePerChannel(
    _ input: UnsafeBufferPointer<Scalar>, count: Int, scale: UnsafeBufferPointer<Scalar>,
    shift: UnsafeBufferPointer<Scalar>?, into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    let width = scale.count
    guard width > 0 else { return }
    precondition(count % width == 0 && input.count >= count && output.count >= count)
    var offset = 0
    while offset < count {
      if let shift {
        for c in 0..<width { output[offset &+ c] = input[offset &+ c] * scale[c] + shift[c] }
      } else {
        for c in 0..<width { output[offset &+ c] = input[offset &+ c] * scale[c] }
      }
      offset &+= width
    }
  }

  /// Every row of width `vector.count` of the first `count` scalars of `output` set to `vector`
  /// (a bias, before a GEMM accumulates into it).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func fillRows(
    _ output: UnsafeMutableBufferPointer<Scalar>, count: Int, with vector: UnsafeBufferPointer<Scalar>
  ) {
    let width = vector.count
    guard width > 0 else { return }
    precondition(count % width == 0 && output.count >= count)
    // A plain loop: rows are short (a layer's channels), and a copy call per row cost more
    // than the copy.
    var offset = 0
    while offset < count {
      for c in 0..<width { output[offset &+ c] = vector[c] }
      offset &+= width
    }
  }

  /// Layer normalization of each row of width `width` (statistics in Double, as
  /// ``layerNormalized(epsilon:gamma:beta:)``); `input` may be `output`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func layerNorm(
    _ input: UnsafeBufferPointer<Scalar>, count: Int, width: Int, epsilon: Scalar,
    gamma: UnsafeBufferPointer<Scalar>?, beta: UnsafeBufferPointer<Scalar>?,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    guard width > 0 else { return }
    precondition(count % width == 0 && input.count >= count && output.count >= count)
    var offset = 0
    while offset < count {
      var total = 0.0
      for c in 0..<width { total += Double(input[offset &+ c]) }
      let mean = total / Double(width)
      var squares = 0.0
      for c in 0..<width {
        let d = Double(input[offset &+ c]) - mean
        squares += d * d
      }
      let inverse = 1 / (squares / Double(width) + Double(epsilon)).squareRoot()
      for c in 0..<width {
        let normalized = Scalar((Double(input[offset &+ c]) - mean) * inverse)
        output[offset &+ c] = normalized * (gamma?[c] ?? 1) + (beta?[c] ?? 0)
      }
      offset &+= width
    }
  }

  /// The softmax of each row of width `width`, shifted by the row's maximum; `input` may be
  /// `output`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func softmax(
    _ input: UnsafeBufferPointer<Scalar>, count: Int, width: Int,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    guard width > 0 else { return }
    precondition(count % width == 0 && input.count >= count && output.count >= count)
    var base = 0
    while base < count {
      var largest = -Scalar.infinity
      for j in 0..<width { largest = BinaryFunction.maximum(largest, input[base &+ j]) }
      var total: Scalar = 0
      for j in 0..<width {
        let e = Scalar.exp(input[base &+ j] - largest)
        output[base &+ j] = e
        total += e
      }
      for j in 0..<width { output[base &+ j] /= total }
      base &+= width
    }
  }
}

extension Tensor {
  /// Element `(row, column)` of every window of `images` channels-last images: output
  /// `(oh, ow, c)` is the input pixel at window offset `(row, column)`, its position clamped
  /// into the part of the window that lies inside the input (padding is never read).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func windowElement(
    _ input: UnsafeBufferPointer<Scalar>, images: Int, channels: Int, window: Window2D, row: Int, column: Int,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    let imageSize = window.inputHeight * window.inputWidth * channels
    precondition(
      input.count >= images * imageSize
        && output.count >= images * window.outputHeight * window.outputWidth * channels,
      "window element buffers too small for \(images) images")
    var target = 0
    for n in 0..<images {
      for oh in 0..<window.outputHeight {
        let rows = window.inputRows(forOutputRow: oh)
        let ih = min(
          max(oh * window.strideHeight - window.padTop + row, rows.lowerBound), rows.upperBound - 1)
        for ow in 0..<window.outputWidth {
          let columns = window.inputColumns(forOutputColumn: ow)
          let iw = min(
            max(ow * window.strideWidth - window.padLeft + column, columns.lowerBound), columns.upperBound - 1
          )
          let source = n &* imageSize &+ (ih &* window.inputWidth &+ iw) &* channels
          for c in 0..<channels { output[target &+ c] = input[source &+ c] }
          target &+= channels
        }
      }
    }
  }

  /// A selection per image: `output[n, k] = input[n, indices[k]]`, or 0 where `indices[k]` is
  /// negative (padding, cropping and axis permutations are such selections).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func gather(
    _ input: UnsafeBufferPointer<Scalar>, images: Int, inputSize: Int, indices: UnsafeBufferPointer<Int32>,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    let outputSize = indices.count
    precondition(
      input.count >= images * inputSize && output.count >= images * outputSize,
      "gather buffers too small for \(images) images")
    for n in 0..<images {
      let from = input.baseAddress! + n &* inputSize
      let to = output.baseAddress! + n &* outputSize
      for k in 0..<outputSize {
        let index = Int(indices[k])
        to[k] = index < 0 ? 0 : from[index]
      }
    }
  }

  /// The mean, sum or deviation from the mean of each row of width `width`, repeated over the
  /// row; `input` may be `output`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func lastAxisStatistic(
    _ input: UnsafeBufferPointer<Scalar>, count: Int, width: Int, statistic: LastAxisStatisticKind,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    guard width > 0 else { return }
    precondition(count % width == 0 && input.count >= count && output.count >= count)
    var base = 0
    while base < count {
      var total = 0.0
      for j in 0..<width { total += Double(input[base &+ j]) }
      switch statistic {
      case .sum:
        let value = Scalar(total)
        for j in 0..<width { output[base &+ j] = value }
      case .mean:
        let value = Scalar(total / Double(width))
        for j in 0..<width { output[base &+ j] = value }
      case .deviation:
        let mean = total / Double(width)
        for j in 0..<width { output[base &+ j] = Scalar(Double(input[base &+ j]) - mean) }
      }
      base &+= width
    }
  }
}

extension Tensor {
  /// Each row of width `width` shifted cyclically: `output[…, j] = input[…, (j + shift) mod width]`
  /// (any shift, negative ones included); `input` and `output` must not overlap.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func lastAxisRotation(
    _ input: UnsafeBufferPointer<Scalar>, count: Int, width: Int, shift: Int,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    guard width > 0 else { return }
    precondition(count % width == 0 && input.count >= count && output.count >= count)
    let offset = ((shift % width) + width) % width
    var base = 0
    while base < count {
      // The row's tail moves to its front, its head to its back.
      for j in 0..<(width - offset) { output[base &+ j] = input[base &+ offset &+ j] }
      for j in 0..<offset { output[base &+ width &- offset &+ j] = input[base &+ j] }
      base &+= width
    }
  }
}

/// Which statistic ``Tensor/lastAxisStatistic(_:count:width:statistic:into:)`` computes.
public enum LastAxisStatisticKind: String, Sendable, Hashable, Codable, CaseIterable {
  case mean, sum
  /// `x − mean(x)`.
  case deviation
}

/// How a pooling window's elements are combined: from `start`, one `combine` per element, then
/// (average) a division by the window's size.
protocol PoolCombination {
  static var divides: Bool { get }
  static func start<Scalar: TensorScalar>() -> Scalar
  static func combine<Scalar: TensorScalar>(_ a: Scalar, _ b: Scalar) -> Scalar
  /// `combine` lane by lane.
  static func combine<Scalar: TensorScalar>(_ a: SIMD4<Scalar>, _ b: SIMD4<Scalar>) -> SIMD4<Scalar>
}

/// Max pooling: `maximum` from −∞ (NaN if any element is NaN).
enum PoolMaximum: PoolCombination {
  static var divides: Bool { false }
  @inline(__always) static func start<Scalar: TensorScalar>() -> Scalar { -.infinity }
  @inline(__always) static func combine<Scalar: TensorScalar>(_ a: Scalar, _ b: Scalar) -> Scalar {
    BinaryFunction.maximum(a, b)
  }
  @inline(__always) static func combine<Scalar: TensorScalar>(
    _ a: SIMD4<Scalar>, _ b: SIMD4<Scalar>
  ) -> SIMD4<Scalar> {
    // Lane by lane: the mask operations of generic SIMD types (`.>=`, `replacing`) stay
    // generic calls per lane even when specialized, many times slower than this.
    SIMD4(
      BinaryFunction.maximum(a[0], b[0]), BinaryFunction.maximum(a[1], b[1]),
      BinaryFunction.maximum(a[2], b[2]), BinaryFunction.maximum(a[3], b[3]))
  }
}

/// Average pooling: the sum from 0, divided by the window's size afterwards.
enum PoolSum: PoolCombination {
  static var divides: Bool { true }
  @inline(__always) static func start<Scalar: TensorScalar>() -> Scalar { 0 }
  @inline(__always) static func combine<Scalar: TensorScalar>(_ a: Scalar, _ b: Scalar) -> Scalar { a + b }
  @inline(__always) static func combine<Scalar: TensorScalar>(
    _ a: SIMD4<Scalar>, _ b: SIMD4<Scalar>
  ) -> SIMD4<Scalar> { a + b }
}
