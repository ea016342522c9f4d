import Tensor

/// The attributes of a 2-D convolution (Keras `Conv2D`, channels last).
///
/// With `groups` g the input channels split into g consecutive groups and so do the filters;
/// filter group k sees only input group k, and the kernel is `(kH, kW, Cin/g, filters)`
/// (Keras's layout; a depthwise convolution is g = Cin). `dilation` d spreads the kernel's
/// taps d apart, covering `(k − 1)·d + 1` input rows or columns.
public struct Conv2DAttributes: Sendable, Hashable, Codable {
  public var filters: Int
  public var kernelSize: [Int]
  public var strides: [Int]
  public var padding: Padding
  public var useBias: Bool
  public var dilation: [Int]
  public var groups: Int

  public init(
    filters: Int, kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid, useBias: Bool = true,
    dilation: [Int] = [1, 1], groups: Int = 1
  ) {
    self.filters = filters
    self.kernelSize = kernelSize
    self.strides = strides
    self.padding = padding
    self.useBias = useBias
    self.dilation = dilation
    self.groups = groups
  }

  private enum CodingKeys: String, CodingKey {
    case filters, kernelSize, strides, padding, useBias, dilation, groups
  }

  /// Files written before dilation and groups existed decode as 1 and 1.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    filters = try container.decode(Int.self, forKey: .filters)
    kernelSize = try container.decode([Int].self, forKey: .kernelSize)
    strides = try container.decode([Int].self, forKey: .strides)
    padding = try container.decode(Padding.self, forKey: .padding)
    useBias = try container.decode(Bool.self, forKey: .useBias)
    dilation = try container.decodeIfPresent([Int].self, forKey: .dilation) ?? [1, 1]
    groups = try container.decodeIfPresent(Int.self, forKey: .groups) ?? 1
  }

  /// An ordinary convolution: one group, no dilation.
  public var isDense: Bool { groups == 1 && dilation.allSatisfy { $0 == 1 } }

  /// The input rows and columns one window spans: `(k − 1)·d + 1`.
  public var spannedKernelSize: [Int] {
    zip(kernelSize, dilation).map { ($0 - 1) * $1 + 1 }
  }

  /// The sliding window over a per-sample input shape `(height, width, …)` (the spanned
  /// kernel, dilation included); nil if it does not fit.
  public func window(input: [Int]) -> Window2D? {
    guard input.count >= 2, kernelSize.count == 2, strides.count == 2, dilation.count == 2,
      dilation.allSatisfy({ $0 > 0 })
    else { return nil }
    let spanned = spannedKernelSize
    return Window2D(
      input: (input[0], input[1]), kernel: (spanned[0], spanned[1]), strides: (strides[0], strides[1]),
      padding: padding)
  }
}

/// The attributes of a 2-D pooling window (Keras `MaxPooling2D` / `AveragePooling2D`).
public struct Pool2DAttributes: Sendable, Hashable, Codable {
  public var mode: PoolingMode
  public var size: [Int]
  public var strides: [Int]
  public var padding: Padding

  public init(mode: PoolingMode, size: [Int], strides: [Int]? = nil, padding: Padding = .valid) {
    self.mode = mode
    self.size = size
    self.strides = strides ?? size
    self.padding = padding
  }

  /// The window over a per-sample input shape `(height, width, …)`; nil if it does not fit.
  public func window(input: [Int]) -> Window2D? {
    guard input.count >= 2, size.count == 2, strides.count == 2 else { return nil }
    return Window2D(
      input: (input[0], input[1]), kernel: (size[0], size[1]), strides: (strides[0], strides[1]),
      padding: padding)
  }
}

/// A statistic over the last axis, repeated along it (affine in the input): mean, sum, or the
/// deviation `x − mean(x)` (LayerNorm's centring step).
public typealias LastAxisStatistic = LastAxisStatisticKind

/// What a node computes. Shapes are per sample (the batch axis is implicit and first);
/// channels are last. Parameters live in ``Node/parameters`` under the names
/// ``parameterShapes(input:)`` lists.
public enum Op: Sendable, Hashable, Codable {
  /// A network input of the given per-sample shape.
  case input(shape: [Int])
  /// `y = x·kernel + bias` on the last axis (`kernel` is `(in, units)`).
  case dense(units: Int, useBias: Bool)
  case conv2d(Conv2DAttributes)
  case pool2d(Pool2DAttributes)
  /// Mean over height and width: `(H, W, C)` → `(C)`.
  case globalAveragePool2d
  /// Row-major flattening of the per-sample shape (H, W, C order for images).
  case flatten
  /// A new per-sample shape with the same element count.
  case reshape([Int])
  /// Inference-time batch normalization on the last axis:
  /// `y = γ (x − moving_mean) / sqrt(moving_variance + ε) + β`.
  case batchNorm(epsilon: Double, center: Bool, scale: Bool)
  /// Layer normalization over the last axis: `y = γ (x − mean) / sqrt(var + ε) + β`.
  case layerNorm(epsilon: Double, center: Bool, scale: Bool)
  /// Identity at inference; `rate` is used only in training.
  case dropout(rate: Double)
  /// The elementwise sum of two or more inputs of equal shape.
  case add
  /// Joins inputs along a per-sample axis (0 is the first axis after the batch; negative
  /// values count from the end, −1 being the channels).
  case concatenate(axis: Int)
  /// An elementwise function.
  case activation(UnaryFunction)
  /// Softmax over the last axis.
  case softmax
  /// A two-input elementwise function of two inputs of equal shape: the max, product, division
  /// and normalizing neurons that composite layers decompose into (docs/dynamics.md, "Targets").
  case binary(BinaryFunction)
  /// One element of every pooling window: output `(oh, ow, c)` is input
  /// `(oh·sH − padTop + row, ow·sW − padLeft + column, c)`, the position clamped into the
  /// input's part of the window — so a max over every element of a window ignores padding.
  case windowElement(Pool2DAttributes, row: Int, column: Int)
  /// A statistic of each sample's last axis broadcast back over that axis (same shape out).
  case lastAxis(LastAxisStatistic)
  /// A cyclic shift along the last axis: `y[…, j] = x[…, (j + shift) mod width]` (a selection;
  /// the row-maximum step of a decomposed softmax).
  case lastAxisRotation(shift: Int)
  /// `y = x·gamma + beta` along the last axis (LayerNorm's affine tail, Keras's Rescaling and
  /// Normalization); either may be absent. The parameters are constants: training leaves them.
  case scaleShift(scale: Bool, shift: Bool)
  /// Zero rows above and below and zero columns left and right of every image:
  /// `(H, W, C)` → `(H + top + bottom, W + left + right, C)` (Keras `ZeroPadding2D`).
  case zeroPad2d(top: Int, bottom: Int, left: Int, right: Int)
  /// Rows and columns cut from every image's edges (Keras `Cropping2D`).
  case crop2d(top: Int, bottom: Int, left: Int, right: Int)
  /// The per-sample axes reordered: output axis k is input axis `order[k]` (0 is the first
  /// axis after the batch; Keras `Permute` with its 1-based `dims` less one).
  case permute(order: [Int])
  /// Every pixel repeated `rows` times down and `columns` times across:
  /// `(H, W, C)` → `(H·rows, W·columns, C)` (Keras `UpSampling2D` with nearest interpolation).
  case upSample2d(rows: Int, columns: Int)
  /// The transposed convolution (Keras `Conv2DTranspose`, PyTorch's `ConvTranspose2d`): each
  /// input pixel adds `kernel[i, j, :, :]·x` to output pixel `(y·sH + i − padTop, x·sW + j −
  /// padLeft)`. The kernel is Keras's `(kH, kW, filters, Cin)`; one group, no dilation. The
  /// output is `(H−1)·s + k` tall (`valid`) or `H·s` (`same`), with the padding `same` gives the
  /// convolution it is the transpose of (``ConvolutionTranspose``).
  case conv2dTranspose(Conv2DAttributes)
  /// Each pixel followed by `rows − 1` zero rows and `columns − 1` zero columns:
  /// `(H, W, C)` → `((H−1)·rows + 1, (W−1)·columns + 1, C)` — a transposed convolution's input
  /// as the equivalent ordinary convolution reads it (a spiking decomposition step).
  case spread2d(rows: Int, columns: Int)

  /// The name used in tables and errors.
  public var kind: String {
    switch self {
    case .input: return "Input"
    case .dense: return "Dense"
    case .conv2d(let a):
      var details = [String]()
      if a.groups > 1 { details.append("\(a.groups) groups") }
      if a.dilation.contains(where: { $0 != 1 }) {
        details.append("dilation \(a.dilation.map(String.init).joined(separator: "×"))")
      }
      return details.isEmpty ? "Conv2D" : "Conv2D(\(details.joined(separator: ", ")))"
    case .pool2d(let attributes): return attributes.mode == .max ? "MaxPooling2D" : "AveragePooling2D"
    case .globalAveragePool2d: return "GlobalAveragePooling2D"
    case .flatten: return "Flatten"
    case .reshape: return "Reshape"
    case .batchNorm: return "BatchNormalization"
    case .layerNorm: return "LayerNormalization"
    case .dropout: return "Dropout"
    case .add: return "Add"
    case .concatenate: return "Concatenate"
    case .activation(let function): return "Activation(\(function.name))"
    case .softmax: return "Softmax"
    case .binary(let function): return "Binary(\(function.name))"
    case .windowElement(_, let row, let column): return "WindowElement(\(row),\(column))"
    case .lastAxis(let statistic): return "LastAxis(\(statistic.rawValue))"
    case .lastAxisRotation(let shift): return "LastAxisRotation(\(shift))"
    case .scaleShift: return "ScaleShift"
    case .zeroPad2d: return "ZeroPadding2D"
    case .crop2d: return "Cropping2D"
    case .permute: return "Permute"
    case .upSample2d: return "UpSampling2D"
    case .conv2dTranspose: return "Conv2DTranspose"
    case .spread2d: return "Spread2D"
    }
  }

  /// The function's name for elementwise ops (`relu`, `softmax` …), else the op kind.
  public var functionName: String {
    switch self {
    case .activation(let function): return function.name
    case .softmax: return "softmax"
    case .binary(let function): return function.name
    default: return kind
    }
  }

  /// How many inputs the op takes: an exact count, or at least two for `add`/`concatenate`.
  var arity: ClosedRange<Int> {
    switch self {
    case .input: return 0...0
    case .add, .concatenate: return 2...Int.max
    case .binary: return 2...2
    default: return 1...1
    }
  }

  /// Whether the op is affine in its inputs (stays affine in a spiking network).
  public var isAffine: Bool {
    switch self {
    case .input, .dense, .conv2d, .globalAveragePool2d, .flatten, .reshape, .batchNorm, .dropout, .add,
      .concatenate:
      return true
    case .pool2d(let attributes): return attributes.mode == .average
    case .activation(let function): return function == .identity
    case .binary(let function): return function == .add || function == .subtract
    case .windowElement, .lastAxis, .lastAxisRotation, .scaleShift, .zeroPad2d, .crop2d, .permute,
      .upSample2d,
      .conv2dTranspose, .spread2d:
      return true
    case .layerNorm, .softmax: return false
    }
  }

  /// The parameters the op needs, with their shapes, for a first input of per-sample shape `input`.
  public func parameterShapes(input: [Int]) -> [(name: String, shape: [Int])] {
    let channels = input.last ?? 0
    switch self {
    case .dense(let units, let useBias):
      return [("kernel", [channels, units])] + (useBias ? [("bias", [units])] : [])
    case .conv2d(let a):
      let groupChannels = channels < 0 ? -1 : channels / max(a.groups, 1)
      return [("kernel", a.kernelSize + [groupChannels, a.filters])]
        + (a.useBias ? [("bias", [a.filters])] : [])
    case .conv2dTranspose(let a):
      return [("kernel", a.kernelSize + [a.filters, channels])] + (a.useBias ? [("bias", [a.filters])] : [])
    case .batchNorm(_, let center, let scale):
      return (scale ? [("gamma", [channels])] : []) + (center ? [("beta", [channels])] : [])
        + [("moving_mean", [channels]), ("moving_variance", [channels])]
    case .layerNorm(_, let center, let scale), .scaleShift(let scale, let center):
      return (scale ? [("gamma", [channels])] : []) + (center ? [("beta", [channels])] : [])
    default:
      return []
    }
  }
}

extension BinaryFunction {
  /// The function's name in tables (`max`, `multiply`, `divide`, `normalize` …).
  public var name: String {
    switch self {
    case .maximum: return "max"
    case .add: return "add"
    case .subtract: return "subtract"
    case .product: return "multiply"
    case .division: return "divide"
    case .normalize: return "normalize"
    }
  }
}
