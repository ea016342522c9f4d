import Graph
import Tensor

/// How an affine node follows spikes under the event update: the integrate-and-fire population
/// whose schedule sets `η_t`, and the node whose spike source it reads (the population, or a
/// bias-free map of its spikes).
struct SpikeDrive {
  let root: Int
  let source: Int
}

/// One graph node as the simulator runs it: its buffer, its inputs (by position) and what it
/// does each step, with every parameter it needs already in place.
struct LoweredNode {
  let name: String
  /// Values per sample.
  let size: Int
  /// The buffer it writes (or, for an alias, shares).
  let buffer: Int
  /// The positions of the nodes it reads, in order.
  let inputs: [Int]
  let kind: Kind

  enum Kind {
    /// Fixed for the whole batch and copied from the ANN's activations: the analog input and
    /// every node that only depends on constants (and the final softmax, which is not read).
    case constant
    /// Shares its input's buffer (Flatten, Reshape, Dropout, identity); whether that input is
    /// constant.
    case alias(Bool)
    /// The input under spike encoding: a population tracking the raw image.
    case encoder
    /// A population of spiking neurons and what drives them.
    case population(PopulationSpec, Drive)
    /// An affine map recomputed (dense) or accumulated (event) every step.
    case affine(AffineMap)
    /// A neuron node of a NIR graph (``NIRNeurons``), fed its one input.
    case nir(NIRNeurons)
  }

  /// What a population's neurons are fed each step: their input estimates, or (fused) a
  /// composite op applied to them.
  enum Drive {
    case one(Int)
    case two(Int, Int)
    case pool(Int, Window2D, PoolingMode, channels: Int)
    case layerNorm(Int, epsilon: Float, gamma: [Float]?, beta: [Float]?, width: Int)
    case softmax(Int, width: Int)
  }

  struct Convolution {
    let kernel: [Float]
    let bias: [Float]?
    let window: Window2D
    let channels: Int
    let filters: Int
  }

  /// A convolution with one group per input channel and `multiplier` filters each, undilated
  /// (run by ``Tensor/depthwiseConv2d(_:images:channels:multiplier:window:kernel:bias:into:)``
  /// rather than as its ordinary equivalent, `channels` times cheaper).
  struct Depthwise {
    let kernel: [Float]
    let bias: [Float]?
    let window: Window2D
    let channels: Int
    let multiplier: Int
  }

  /// An affine map with its parameters: the output is `A(x)`, its linear part `A(x) − A(0)`
  /// drops the bias or shift.
  enum AffineMap {
    case dense(kernel: [Float], bias: [Float]?, inputWidth: Int, units: Int)
    case conv2d(Convolution)
    case depthwise(Depthwise)
    case averagePool(Window2D, channels: Int)
    case windowElement(Window2D, row: Int, column: Int, channels: Int)
    case globalAveragePool(positions: Int, channels: Int)
    case lastAxis(LastAxisStatistic, width: Int)
    case lastAxisRotation(shift: Int, width: Int)
    /// `x·scale + shift` per channel (inference BatchNorm, LayerNorm's tail).
    case channelAffine(scale: [Float], shift: [Float]?)
    case sum
    case difference
    /// Per outer index, each input's block of `blocks[k]` values in turn; `outer` blocks per sample.
    case concatenate(blocks: [Int], outer: Int)
    /// Output k of a sample is input `indices[k]`, or 0 where negative (zero padding, cropping,
    /// axis permutations); `inputSize` values per input sample.
    case gather(indices: [Int32], inputSize: Int)

    /// The bias or shift, repeated along the innermost axis; nil for a linear map.
    var bias: [Float]? {
      switch self {
      case .dense(_, let bias, _, _): return bias
      case .conv2d(let conv): return conv.bias
      case .depthwise(let conv): return conv.bias
      case .channelAffine(_, let shift): return shift
      case .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation, .sum, .difference,
        .concatenate, .gather:
        return nil
      }
    }

    /// The outputs one input of a GEMM map reaches (per image); 0 for the other maps.
    var fanOut: Int {
      switch self {
      case .dense(_, _, _, let units): return units
      case .conv2d(let conv): return conv.window.kernelHeight * conv.window.kernelWidth * conv.filters
      case .depthwise, .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation,
        .channelAffine,
        .sum, .difference, .concatenate, .gather:
        return 0
      }
    }

    /// Whether the map is a matrix product (dense or an ordinary convolution), which can
    /// accumulate a change of its input in place.
    var isGEMM: Bool {
      switch self {
      case .dense, .conv2d: return true
      case .depthwise, .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation,
        .channelAffine,
        .sum, .difference, .concatenate, .gather:
        return false
      }
    }

    /// Whether nodes fed by this map may follow spikes through it: a bias-free map with one
    /// input that is cheap to apply to a whole spike source (not a GEMM).
    var passesSpikesOn: Bool {
      switch self {
      case .dense, .conv2d, .depthwise, .sum, .difference, .concatenate: return false
      case .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation, .channelAffine,
        .gather:
        return bias == nil
      }
    }
  }

  var isConstant: Bool { Self.isConstant(kind) }

  static func isConstant(_ kind: Kind) -> Bool {
    switch kind {
    case .constant: return true
    case .alias(let constant): return constant
    case .encoder, .population, .affine, .nir: return false
    }
  }

  static func drive(of node: Node, inputs: [Int], inputShape: [Int]) -> Drive {
    switch node.op {
    case .activation: return .one(inputs[0])
    case .binary: return .two(inputs[0], inputs[1])
    case .pool2d(let a):
      return .pool(inputs[0], a.window(input: inputShape)!, a.mode, channels: node.shape.last!)
    case .layerNorm(let epsilon, _, _):
      return .layerNorm(
        inputs[0], epsilon: Float(epsilon), gamma: node.parameters["gamma"]?.scalars,
        beta: node.parameters["beta"]?.scalars, width: node.shape.last!)
    case .softmax: return .softmax(inputs[0], width: node.shape.last!)
    // Affine ops and inputs have no population: they are lowered as maps, inputs or aliases.
    case .input, .dense, .conv2d, .globalAveragePool2d, .flatten, .reshape, .batchNorm, .dropout, .add,
      .concatenate, .windowElement, .lastAxis, .lastAxisRotation, .scaleShift, .zeroPad2d, .crop2d, .permute,
      .upSample2d, .conv2dTranspose, .spread2d:
      preconditionFailure("no population form for \(node.op.kind)")
    }
  }

  /// The affine map a node computes; nil for an op that is not affine (``Op/isAffine`` false),
  /// which runs as a population or not at all. Every op is named here, so a new one is a
  /// compile error until it is decided.
  static func affineMap(of node: Node, inputs: [Int], inputShape: [Int], inputShapes: [[Int]]) -> AffineMap? {
    let channels = node.shape.last ?? 1
    switch node.op {
    case .dense(let units, _):
      return .dense(
        kernel: node.parameters["kernel"]!.scalars, bias: node.parameters["bias"]?.scalars,
        inputWidth: inputShape.last!, units: units)
    case .conv2d(let a):
      let kernel = node.parameters["kernel"]!
      if a.groups > 1, a.groups == inputShape.last!, a.dilation.allSatisfy({ $0 == 1 }) {
        return .depthwise(
          Depthwise(
            kernel: kernel.scalars, bias: node.parameters["bias"]?.scalars,
            window: a.window(input: inputShape)!,
            channels: a.groups, multiplier: a.filters / a.groups))
      }
      // Another grouped or a dilated convolution runs as its ordinary equivalent.
      return .conv2d(
        Convolution(
          kernel: (a.isDense ? kernel : a.denseKernel(kernel, inputChannels: inputShape.last!)).scalars,
          bias: node.parameters["bias"]?.scalars,
          window: a.window(input: inputShape)!, channels: inputShape.last!, filters: a.filters))
    case .pool2d(let a):
      return a.mode == .average ? .averagePool(a.window(input: inputShape)!, channels: channels) : nil
    case .windowElement(let a, let row, let column):
      return .windowElement(a.window(input: inputShape)!, row: row, column: column, channels: channels)
    case .globalAveragePool2d:
      return .globalAveragePool(positions: inputShape[0] * inputShape[1], channels: channels)
    case .lastAxis(let statistic):
      return .lastAxis(statistic, width: channels)
    case .lastAxisRotation(let shift):
      return .lastAxisRotation(shift: shift, width: channels)
    case .batchNorm(let epsilon, _, _):
      let affine = BatchNormalization.channelAffine(epsilon: epsilon, parameters: node.parameters)
      return .channelAffine(scale: affine.scale, shift: affine.shift)
    case .scaleShift:
      return .channelAffine(
        scale: node.parameters["gamma"]?.scalars ?? [Float](repeating: 1, count: channels),
        shift: node.parameters["beta"]?.scalars)
    case .add, .binary(.add):
      return .sum
    case .binary(.subtract):
      return .difference
    case .zeroPad2d, .crop2d, .permute, .upSample2d, .spread2d:
      return .gather(indices: node.op.selectionIndices(input: inputShape), inputSize: inputShape.reduce(1, *))
    case .conv2dTranspose:
      preconditionFailure("Conv2DTranspose is decomposed by conversion into a spread, a padding and a Conv2D")
    case .concatenate(let given):
      let shape = node.shape
      let axis = given < 0 ? given + shape.count : given
      let inner = shape[(axis + 1)...].reduce(1, *)
      return .concatenate(
        blocks: inputShapes.map { $0[axis] * inner }, outer: shape[..<axis].reduce(1, *))
    case .binary(.maximum), .binary(.product), .binary(.division), .binary(.normalize):
      return nil
    case .activation(let function):
      // The identity shares its input's buffer and never reaches here.
      precondition(function != .identity, "the identity is an alias, not a map")
      return nil
    case .layerNorm, .softmax:
      return nil
    case .input, .flatten, .reshape, .dropout:
      preconditionFailure("\(node.op.kind) is lowered as an input or an alias before maps are asked for")
    }
  }
}

extension Op {
  /// Whether the op's output is its input's values unchanged (only the shape differs), so a
  /// simulator can share the buffer.
  var sharesInputBuffer: Bool {
    switch self {
    case .flatten, .reshape, .dropout: return true
    case .activation(let function): return function == .identity
    case .input, .dense, .conv2d, .pool2d, .globalAveragePool2d, .batchNorm, .layerNorm, .add, .concatenate,
      .softmax, .binary, .windowElement, .lastAxis, .lastAxisRotation, .scaleShift, .zeroPad2d, .crop2d,
      .permute, .upSample2d, .conv2dTranspose, .spread2d:
      return false
    }
  }
}
