extension Tensor {
  /// Copies the receptive fields of images `first..<first+count` of a channels-last batch into
  /// rows of `columns`: row `(n, oh, ow)` holds the window in `(kh, kw, c)` order, zeros where it
  /// overhangs the padded border. With a kernel laid out `(kH, kW, Cin, Cout)` the convolution is
  /// then one GEMM.
  /// - Complexity: O(count · outH · outW · kH · kW · C).
  static func im2col(
    _ input: UnsafeBufferPointer<Scalar>, channels: Int, window: Window2D, first: Int, count: Int,
    into columns: UnsafeMutableBufferPointer<Scalar>
  ) {
    let c = channels
    let rowLength = window.kernelHeight * window.kernelWidth * c
    let imageSize = window.inputHeight * window.inputWidth * c
    let spanLength = window.kernelWidth &* c
    if c % 4 == 0 {
      return im2colQuads(
        input.baseAddress! + first &* imageSize, channels: c, window: window, count: count,
        into: columns.baseAddress!)
    }
    var row = 0
    for n in first..<(first + count) {
      let image = n &* imageSize
      for oh in 0..<window.outputHeight {
        for ow in 0..<window.outputWidth {
          var target = row &* rowLength
          let left = ow &* window.strideWidth &- window.padLeft
          let spanInside = left >= 0 && left &+ window.kernelWidth <= window.inputWidth
          for kh in 0..<window.kernelHeight {
            let ih = oh &* window.strideHeight &- window.padTop &+ kh
            if ih < 0 || ih >= window.inputHeight {
              (columns.baseAddress! + target).update(repeating: 0, count: spanLength)
            } else if spanInside {
              // For one kernel row the window covers kW consecutive pixels: one contiguous copy.
              // A plain loop: spans are short (kW pixels of a few channels) and a copy call per
              // span cost more than the copy.
              let from = input.baseAddress! + (image &+ (ih &* window.inputWidth &+ left) &* c)
              let to = columns.baseAddress! + target
              var k = 0
              while k < spanLength {
                to[k] = from[k]
                k &+= 1
              }
            } else {
              for kw in 0..<window.kernelWidth {
                let iw = left &+ kw
                let slot = columns.baseAddress! + (target &+ kw &* c)
                if iw >= 0 && iw < window.inputWidth {
                  slot.update(
                    from: input.baseAddress! + (image &+ (ih &* window.inputWidth &+ iw) &* c), count: c)
                } else {
                  slot.update(repeating: 0, count: c)
                }
              }
            }
            target &+= spanLength
          }
          row &+= 1
        }
      }
    }
  }

  /// ``im2col(_:channels:window:first:count:into:)`` for channels in fours: the same values,
  /// copied (or zeroed, over the padding) as vectors of four, with plain pointer arithmetic and
  /// fixed trip counts — the general loop spends more on its per-span bounds and overlap checks
  /// than on the copy of a short span.
  static func im2colQuads(
    _ x: UnsafePointer<Scalar>, channels: Int, window: Window2D, count: Int,
    into columns: UnsafeMutablePointer<Scalar>
  ) {
    typealias Quad = SIMD4<Scalar>
    let quadBytes = MemoryLayout<Quad>.stride
    let pixelQuads = channels / 4
    let pixelBytes = channels &* MemoryLayout<Scalar>.stride
    let spanQuads = window.kernelWidth &* pixelQuads
    let rowBytes = window.inputWidth &* pixelBytes
    let imageBytes = window.inputHeight &* rowBytes
    let kH = window.kernelHeight
    let kW = window.kernelWidth
    var to = UnsafeMutableRawPointer(columns)
    // Returns the position after what it wrote: `to` stays in a register.
    @inline(__always) func copy(
      _ quads: Int, from: UnsafeRawPointer, to start: UnsafeMutableRawPointer
    ) -> UnsafeMutableRawPointer {
      var to = start
      var q = 0
      while q < quads {
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: q &* quadBytes, as: Quad.self), as: Quad.self)
        to += quadBytes
        q &+= 1
      }
      return to
    }
    @inline(__always) func zeros(_ quads: Int, to start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
      var to = start
      var q = 0
      while q < quads {
        to.storeBytes(of: Quad(repeating: 0), as: Quad.self)
        to += quadBytes
        q &+= 1
      }
      return to
    }
    if window.padTop == 0 && window.padLeft == 0
      && (window.outputHeight - 1) * window.strideHeight + kH <= window.inputHeight
      && (window.outputWidth - 1) * window.strideWidth + kW <= window.inputWidth
    {
      // Every window inside the image: no bounds per span.
      let rowStep = window.strideHeight &* rowBytes
      let columnStep = window.strideWidth &* pixelBytes
      var n = 0
      while n < count {
        var rowStart = UnsafeRawPointer(x) + n &* imageBytes
        var oh = 0
        while oh < window.outputHeight {
          var corner = rowStart
          var ow = 0
          while ow < window.outputWidth {
            var span = corner
            var kh = 0
            while kh < kH {
              to = copy(spanQuads, from: span, to: to)
              span += rowBytes
              kh &+= 1
            }
            corner += columnStep
            ow &+= 1
          }
          rowStart += rowStep
          oh &+= 1
        }
        n &+= 1
      }
      return
    }
    var n = 0
    while n < count {
      let image = UnsafeRawPointer(x) + n &* imageBytes
      var oh = 0
      while oh < window.outputHeight {
        let top = oh &* window.strideHeight &- window.padTop
        var ow = 0
        while ow < window.outputWidth {
          let left = ow &* window.strideWidth &- window.padLeft
          let spanInside = left >= 0 && left &+ kW <= window.inputWidth
          var kh = 0
          while kh < kH {
            let ih = top &+ kh
            if ih < 0 || ih >= window.inputHeight {
              to = zeros(spanQuads, to: to)
            } else if spanInside {
              to = copy(spanQuads, from: image + (ih &* rowBytes &+ left &* pixelBytes), to: to)
            } else {
              var kw = 0
              while kw < kW {
                let iw = left &+ kw
                if iw >= 0 && iw < window.inputWidth {
                  to = copy(pixelQuads, from: image + (ih &* rowBytes &+ iw &* pixelBytes), to: to)
                } else {
                  to = zeros(pixelQuads, to: to)
                }
                kw &+= 1
              }
            }
            kh &+= 1
          }
          ow &+= 1
        }
        oh &+= 1
      }
      n &+= 1
    }
  }

  /// 2-D convolution (cross-correlation, as in Keras) of a channels-last batch.
  ///
  /// Implemented as im2col + one GEMM per chunk of images (chunks keep the column buffer near
  /// 1 MiB); a 1×1 kernel with unit strides skips im2col entirely.
  /// - Parameters:
  ///   - input: `(N, H, W, Cin)`.
  ///   - kernel: `(kH, kW, Cin, Cout)`, Keras's layout.
  ///   - bias: `(Cout)` or nil.
  /// - Returns: `(N, outH, outW, Cout)` per ``Window2D``.
  /// - Complexity: O(N · outH · outW · kH · kW · Cin · Cout).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func conv2d(
    _ input: Tensor, kernel: Tensor, bias: Tensor? = nil,
    strides: (height: Int, width: Int) = (1, 1), padding: Padding = .valid
  ) -> Tensor {
    precondition(input.rank == 4 && kernel.rank == 4, "conv2d: input \(input.shape), kernel \(kernel.shape)")
    precondition(
      input.shape[3] == kernel.shape[2], "conv2d: input channels \(input.shape[3]) ≠ kernel \(kernel.shape)")
    guard
      let window = Window2D(
        input: (input.shape[1], input.shape[2]), kernel: (kernel.shape[0], kernel.shape[1]),
        strides: strides, padding: padding)
    else { preconditionFailure("conv2d: kernel \(kernel.shape) does not fit input \(input.shape)") }
    let batch = input.shape[0]
    let outChannels = kernel.shape[3]
    var output = Tensor(uninitialized: [batch, window.outputHeight, window.outputWidth, outChannels])
    var columns = [Scalar](
      repeating: 0, count: conv2dColumnsCapacity(images: batch, channels: input.shape[3], window: window))
    output.scalars.withUnsafeMutableBufferPointer { out in
      input.scalars.withUnsafeBufferPointer { x in
        kernel.scalars.withUnsafeBufferPointer { k in
          columns.withUnsafeMutableBufferPointer { cols in
            conv2d(
              x, images: batch, channels: input.shape[3], window: window, kernel: k, outChannels: outChannels,
              columns: cols, into: out, beta: 0)
          }
        }
      }
    }
    if let bias { output.addRowVector(bias) }
    return output
  }
}
