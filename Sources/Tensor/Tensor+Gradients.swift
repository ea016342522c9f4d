/// Which input of a max receives the gradient when several share the maximum value: an element
/// of the Clarke differential chosen by the user (docs/dynamics.md, "Training with chosen subgradients").
public enum MaxTieRule: String, Sendable, Hashable, Codable, CaseIterable {
  /// The first tied element in window order (row-major) gets all of it.
  case first
  /// The last tied element gets all of it.
  case last
  /// Every tied element gets an equal share.
  case split
}

extension Tensor {
  /// Adds `columns` (laid out as ``im2col(_:channels:window:first:count:into:)`` writes them) back
  /// into the images they came from: the adjoint of im2col. Windows overlapping the padding drop
  /// those entries.
  static func col2im(
    _ columns: UnsafeBufferPointer<Scalar>, channels c: Int, window: Window2D, first: Int, count: Int,
    into image: UnsafeMutableBufferPointer<Scalar>
  ) {
    let rowLength = window.kernelHeight * window.kernelWidth * c
    let imageSize = window.inputHeight * window.inputWidth * c
    var row = 0
    for n in first..<(first + count) {
      let base = n &* imageSize
      for oh in 0..<window.outputHeight {
        for ow in 0..<window.outputWidth {
          var source = row &* rowLength
          for kh in 0..<window.kernelHeight {
            let ih = oh &* window.strideHeight &- window.padTop &+ kh
            for kw in 0..<window.kernelWidth {
              let iw = ow &* window.strideWidth &- window.padLeft &+ kw
              if ih >= 0 && ih < window.inputHeight && iw >= 0 && iw < window.inputWidth {
                let target = base &+ (ih &* window.inputWidth &+ iw) &* c
                for j in 0..<c { image[target &+ j] += columns[source &+ j] }
              }
              source &+= c
            }
          }
          row &+= 1
        }
      }
    }
  }

  /// Gradients of ``conv2d(_:kernel:bias:strides:padding:)`` with respect to its input, kernel
  /// and bias, given the gradient of its output. Columns are rebuilt chunk by chunk rather than
  /// kept from the forward pass, so memory stays O(chunk).
  /// - Complexity: twice the forward GEMM work plus im2col/col2im.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func conv2dBackward(
    input: Tensor, kernel: Tensor, outputGradient: Tensor, strides: (height: Int, width: Int),
    padding: Padding
  ) -> (input: Tensor, kernel: Tensor, bias: Tensor) {
    guard
      let window = Window2D(
        input: (input.shape[1], input.shape[2]), kernel: (kernel.shape[0], kernel.shape[1]), strides: strides,
        padding: padding)
    else { preconditionFailure("conv2dBackward: kernel \(kernel.shape) does not fit input \(input.shape)") }
    let batch = input.shape[0]
    let channels = input.shape[3]
    let outChannels = kernel.shape[3]
    let positions = window.outputHeight * window.outputWidth
    let rowLength = kernel.shape[0] * kernel.shape[1] * channels
    precondition(
      outputGradient.shape == [batch, window.outputHeight, window.outputWidth, outChannels],
      "conv2dBackward: gradient \(outputGradient.shape)")
    var inputGradient = Tensor(zeros: input.shape)
    var kernelGradient = Tensor(zeros: kernel.shape)
    let biasGradient = outputGradient.reshaped([batch * positions, outChannels]).reduce(.sum, axis: 0)
    let imagesPerChunk = max(1, min(batch, (1 << 18) / max(positions * rowLength, 1)))
    var columns = [Scalar](repeating: 0, count: imagesPerChunk * positions * rowLength)
    input.scalars.withUnsafeBufferPointer { x in
      kernel.scalars.withUnsafeBufferPointer { k in
        outputGradient.scalars.withUnsafeBufferPointer { dy in
          inputGradient.scalars.withUnsafeMutableBufferPointer { dx in
            kernelGradient.scalars.withUnsafeMutableBufferPointer { dk in
              columns.withUnsafeMutableBufferPointer { cols in
                var first = 0
                while first < batch {
                  let count = min(imagesPerChunk, batch - first)
                  let rows = count * positions
                  let dyChunk = UnsafeBufferPointer(
                    rebasing: dy[
                      (first * positions * outChannels)..<((first + count) * positions * outChannels)])
                  im2col(x, channels: channels, window: window, first: first, count: count, into: cols)
                  // dK += colsᵀ · dY
                  gemm(
                    transposeA: true, transposeB: false, m: rowLength, n: outChannels, k: rows, alpha: 1,
                    a: UnsafeBufferPointer(cols), lda: rowLength, b: dyChunk, ldb: outChannels, beta: 1,
                    c: dk,
                    ldc: outChannels)
                  // dCols = dY · Kᵀ, then scattered back onto the images.
                  gemm(
                    transposeA: false, transposeB: true, m: rows, n: rowLength, k: outChannels, alpha: 1,
                    a: dyChunk, lda: outChannels, b: k, ldb: outChannels, beta: 0, c: cols, ldc: rowLength)
                  col2im(
                    UnsafeBufferPointer(cols), channels: channels, window: window, first: first, count: count,
                    into: dx)
                  first += count
                }
              }
            }
          }
        }
      }
    }
    return (inputGradient, kernelGradient, biasGradient)
  }

  /// The gradient of ``pool2d(_:mode:size:strides:padding:)`` with respect to its input.
  ///
  /// Average pooling spreads each output gradient evenly over the window's elements inside the
  /// input. Max pooling sends it to the element(s) equal to the window's maximum, choosing among
  /// ties by `tie`.
  /// - Parameters:
  ///   - output: the forward result (used to find each window's maximum).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func pool2dBackward(
    input: Tensor, output: Tensor, outputGradient: Tensor, mode: PoolingMode, size: (height: Int, width: Int),
    strides: (height: Int, width: Int)? = nil, padding: Padding = .valid, tie: MaxTieRule = .first
  ) -> Tensor {
    guard
      let window = Window2D(
        input: (input.shape[1], input.shape[2]), kernel: size, strides: strides ?? size, padding: padding)
    else { preconditionFailure("pool2dBackward: window \(size) does not fit input \(input.shape)") }
    let (batch, channels) = (input.shape[0], input.shape[3])
    var gradient = Tensor(zeros: input.shape)
    if mode == .average || tie != .split {
      gradient.scalars.withUnsafeMutableBufferPointer { dx in
        input.scalars.withUnsafeBufferPointer { x in
          output.scalars.withUnsafeBufferPointer { y in
            outputGradient.scalars.withUnsafeBufferPointer { dy in
              poolBackwardByPixel(
                x, y, dy, into: dx, images: batch, channels: channels, window: window, mode: mode,
                lastTie: tie == .last)
            }
          }
        }
      }
      return gradient
    }
    gradient.scalars.withUnsafeMutableBufferPointer { dx in
      input.scalars.withUnsafeBufferPointer { x in
        output.scalars.withUnsafeBufferPointer { y in
          outputGradient.scalars.withUnsafeBufferPointer { dy in
            var slot = 0
            for n in 0..<batch {
              let image = n &* window.inputHeight &* window.inputWidth &* channels
              for oh in 0..<window.outputHeight {
                let rows = window.inputRows(forOutputRow: oh)
                for ow in 0..<window.outputWidth {
                  let columns = window.inputColumns(forOutputColumn: ow)
                  for c in 0..<channels {
                    let g = dy[slot]
                    if mode == .average {
                      let share = g / Scalar(rows.count * columns.count)
                      for ih in rows {
                        for iw in columns {
                          dx[image &+ (ih &* window.inputWidth &+ iw) &* channels &+ c] += share
                        }
                      }
                    } else {
                      let best = y[slot]
                      var ties = 0
                      var chosen = -1
                      for ih in rows {
                        for iw in columns {
                          let index = image &+ (ih &* window.inputWidth &+ iw) &* channels &+ c
                          if x[index] == best {
                            ties += 1
                            if chosen < 0 || tie == .last { chosen = index }
                          }
                        }
                      }
                      if tie == .split && ties > 1 {
                        let share = g / Scalar(ties)
                        for ih in rows {
                          for iw in columns {
                            let index = image &+ (ih &* window.inputWidth &+ iw) &* channels &+ c
                            if x[index] == best { dx[index] += share }
                          }
                        }
                      } else if chosen >= 0 {
                        dx[chosen] += g
                      }
                    }
                    slot &+= 1
                  }
                }
              }
            }
          }
        }
      }
    }
    return gradient
  }

  /// The pooling gradient one output pixel at a time, with the channels innermost (contiguous,
  /// raw pointers): average pooling spreads each share over the window; max pooling gives each
  /// channel's gradient to the first window element (in row-major window order; the last with
  /// `lastTie`) equal to the forward maximum. Each input element receives at most one addition
  /// per output pixel, in output-pixel order, as in the channel-by-channel definition.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  static func poolBackwardByPixel(
    _ input: UnsafeBufferPointer<Scalar>, _ output: UnsafeBufferPointer<Scalar>,
    _ outputGradient: UnsafeBufferPointer<Scalar>, into inputGradient: UnsafeMutableBufferPointer<Scalar>,
    images: Int, channels: Int, window: Window2D, mode: PoolingMode, lastTie: Bool
  ) {
    let imageSize = window.inputHeight &* window.inputWidth &* channels
    let outputs = images &* window.outputHeight &* window.outputWidth &* channels
    precondition(
      input.count >= images &* imageSize && inputGradient.count >= images &* imageSize
        && output.count >= outputs && outputGradient.count >= outputs, "pooling gradient buffers too small")
    guard outputs > 0 else { return }
    let x = input.baseAddress!
    let y = output.baseAddress!
    let dy = outputGradient.baseAddress!
    let dx = inputGradient.baseAddress!
    withUnsafeTemporaryAllocation(of: Bool.self, capacity: channels) { found in
      var slot = 0
      for n in 0..<images {
        let image = n &* imageSize
        for oh in 0..<window.outputHeight {
          let rows = window.inputRows(forOutputRow: oh)
          for ow in 0..<window.outputWidth {
            let columns = window.inputColumns(forOutputColumn: ow)
            let g = dy + slot
            if mode == .average {
              let divisor = Scalar(rows.count &* columns.count)
              for ih in rows {
                for iw in columns {
                  let pixel = image &+ (ih &* window.inputWidth &+ iw) &* channels
                  var c = 0
                  while c < channels {
                    dx[pixel &+ c] += g[c] / divisor
                    c &+= 1
                  }
                }
              }
            } else {
              let best = y + slot
              let count = rows.count &* columns.count
              if count == 4 {
                // A 2×2 window (the common case) without a branch on the data, so that it
                // compiles to vector code over the channels: which element equals the maximum
                // is data, and a branch on it mispredicts. The first (or, for the last tie,
                // last) equal element in window order gets the gradient; adding +0 elsewhere
                // leaves every value's bits as they are (no gradient entry is ever −0).
                func pixel(_ position: Int) -> Int {
                  let p = lastTie ? 3 &- position : position
                  return image
                    &+ ((rows.lowerBound &+ p / columns.count) &* window.inputWidth
                      &+ columns.lowerBound &+ p % columns.count) &* channels
                }
                let (p0, p1, p2, p3) = (pixel(0), pixel(1), pixel(2), pixel(3))
                var c = 0
                while c < channels {
                  // Every value loaded first: a load behind `&&` would stay a branch.
                  let b = best[c]
                  let gradient = g[c]
                  let (v0, v1, v2, v3) = (x[p0 &+ c], x[p1 &+ c], x[p2 &+ c], x[p3 &+ c])
                  let e0 = v0 == b
                  let e1 = v1 == b
                  let e2 = v2 == b
                  let e3 = v3 == b
                  dx[p0 &+ c] += e0 ? gradient : 0
                  dx[p1 &+ c] += e1 && !e0 ? gradient : 0
                  dx[p2 &+ c] += e2 && !(e0 || e1) ? gradient : 0
                  dx[p3 &+ c] += e3 && !(e0 || e1 || e2) ? gradient : 0
                  c &+= 1
                }
                slot &+= channels
                continue
              }
              found.initialize(repeating: false)
              for k in 0..<count {
                // The window's elements in row-major order, or backwards for the last tie.
                let position = lastTie ? count &- 1 &- k : k
                let ih = rows.lowerBound &+ position / columns.count
                let iw = columns.lowerBound &+ position % columns.count
                let pixel = image &+ (ih &* window.inputWidth &+ iw) &* channels
                var c = 0
                while c < channels {
                  if !found[c] && x[pixel &+ c] == best[c] {
                    found[c] = true
                    dx[pixel &+ c] += g[c]
                  }
                  c &+= 1
                }
              }
            }
            slot &+= channels
          }
        }
      }
    }
  }

  /// The gradient of ``globalAveragePool2d(_:)``: each `(N, C)` gradient spread evenly over the
  /// `H × W` positions of `inputShape`.
  public static func globalAveragePool2dBackward(outputGradient: Tensor, inputShape: [Int]) -> Tensor {
    let (batch, positions, channels) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
    var gradient = Tensor(uninitialized: inputShape)
    gradient.scalars.withUnsafeMutableBufferPointer { dx in
      outputGradient.scalars.withUnsafeBufferPointer { dy in
        for n in 0..<batch {
          for p in 0..<positions {
            for c in 0..<channels {
              dx[(n &* positions &+ p) &* channels &+ c] = dy[n &* channels &+ c] / Scalar(positions)
            }
          }
        }
      }
    }
    return gradient
  }
}
