import Tensor

/// The choices of Clarke-differential elements at the points where an op is not differentiable.
///
/// Reverse-mode AD needs a value where the derivative does not exist; libraries silently pick
/// one (PyTorch, TensorFlow and JAX use ReLU'(0) = 0). Here it is explicit (docs/dynamics.md, "Training with chosen subgradients").
public struct SubgradientPolicy: Sendable, Hashable, Codable {
  /// The derivative used where the input is exactly 0 for `relu`, `leaky_relu` and `abs`, and at
  /// the threshold of a thresholded ReLU: the gradient passed back is `gradOut · reluPrime`.
  /// Any real number is accepted; values in [0, 1] are elements of ReLU's Clarke differential.
  public var reluPrime: Double
  /// Which of several tied maxima in a max-pooling window receives the gradient.
  public var maxPoolTie: MaxTieRule

  public init(reluPrime: Double = 0, maxPoolTie: MaxTieRule = .first) {
    self.reluPrime = reluPrime
    self.maxPoolTie = maxPoolTie
  }
}

/// What an op's forward pass keeps for its backward pass besides its inputs and output.
public enum SavedForBackward<Scalar: TensorScalar>: Sendable {
  case nothing
  /// The normalized input `x̂` and `1/√(σ² + ε)` per channel (BatchNorm in training mode) or per
  /// row (LayerNorm).
  case normalization(normalized: Tensor<Scalar>, inverseDeviation: [Scalar])
  /// Dropout's mask, already scaled by `1/(1 − rate)`.
  case mask(Tensor<Scalar>)
}

/// An op's output in a differentiable forward pass, with what its backward pass needs.
public struct DifferentiableOutput<Scalar: TensorScalar>: Sendable {
  public var output: Tensor<Scalar>
  public var saved: SavedForBackward<Scalar>
  /// BatchNorm in training mode: the batch mean and (biased) variance per channel, from which
  /// the caller updates the moving statistics.
  public var batchStatistics: (mean: [Scalar], variance: [Scalar])?

  public init(
    _ output: Tensor<Scalar>, saved: SavedForBackward<Scalar> = .nothing,
    batchStatistics: (mean: [Scalar], variance: [Scalar])? = nil
  ) {
    self.output = output
    self.saved = saved
    self.batchStatistics = batchStatistics
  }
}

/// The gradients an op's backward pass returns: one per input, in input order, and one per
/// trainable parameter it has (by name).
public struct OpGradients<Scalar: TensorScalar>: Sendable {
  public var inputs: [Tensor<Scalar>]
  public var parameters: [String: Tensor<Scalar>]

  init(inputs: [Tensor<Scalar>], parameters: [String: Tensor<Scalar>] = [:]) {
    self.inputs = inputs
    self.parameters = parameters
  }
}

extension Op {
  /// Whether the op has a backward pass: every op but the steps of a spiking decomposition
  /// that no model is made of (two-input functions, the merge layers, have one).
  public var isDifferentiable: Bool {
    switch self {
    case .windowElement, .lastAxis, .lastAxisRotation: return false
    default: return true
    }
  }

  /// The op's output in a differentiable forward pass. In training mode BatchNorm normalizes
  /// with the batch's statistics (and returns them) and Dropout drops with a fresh mask;
  /// otherwise both act as at inference. LayerNorm keeps its normalized input either way.
  /// Each op's rule is in its file under `Ops/`, beside its backward pass.
  /// - Parameters:
  ///   - roundsToHalf: round a Dropout mask to IEEE half (half-precision training).
  ///   - random: draws the Dropout mask.
  /// - Precondition: ``isDifferentiable``.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func differentiableForward<Scalar: TensorScalar>(
    _ inputs: [Tensor<Scalar>], parameters: [String: Tensor<Scalar>], training: Bool, roundsToHalf: Bool,
    random: inout SplitMix64
  ) -> DifferentiableOutput<Scalar> {
    precondition(isDifferentiable, "\(kind) has no backward pass")
    switch self {
    case .batchNorm(let epsilon, _, _) where training:
      return BatchNormalization.trainingForward(inputs[0], epsilon: epsilon, parameters: parameters)
    case .layerNorm(let epsilon, _, _):
      return LayerNormalization.differentiableForward(inputs[0], epsilon: epsilon, parameters: parameters)
    case .dropout(let rate) where training && rate > 0:
      return Structural.dropoutForward(inputs[0], rate: rate, roundsToHalf: roundsToHalf, random: &random)
    default:
      return DifferentiableOutput(apply(inputs, parameters: parameters))
    }
  }

  /// The vector-Jacobian product: the gradients of the op's inputs and trainable parameters
  /// given the gradient `dy` of its output. At kinks and ties the `policy` picks the element of
  /// the Clarke differential; each op's rule is in its file under `Ops/`, beside its forward pass.
  /// - Parameters:
  ///   - inputs, output, saved: what the forward pass saw and kept.
  /// - Precondition: ``isDifferentiable``; for an input node the result holds no gradients.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward<Scalar: TensorScalar>(
    inputs: [Tensor<Scalar>], output: Tensor<Scalar>, saved: SavedForBackward<Scalar>,
    outputGradient dy: Tensor<Scalar>, parameters: [String: Tensor<Scalar>], policy: SubgradientPolicy
  ) -> OpGradients<Scalar> {
    switch self {
    case .windowElement, .lastAxis, .lastAxisRotation:
      preconditionFailure("\(kind) has no backward pass")
    case .binary(let function):
      return Elementwise.binaryBackward(function, inputs[0], inputs[1], dy, tie: policy.maxPoolTie)
    case .scaleShift:
      // The scale and shift are constants (preprocessing): only the input has a gradient.
      return OpGradients(inputs: [LayerNormalization.scaleShiftBackward(dy, parameters: parameters)])
    case .zeroPad2d, .crop2d, .permute, .upSample2d, .spread2d:
      return OpGradients(inputs: [Structural.selectionBackward(self, dy, input: inputs[0])])
    case .conv2dTranspose(let a):
      return ConvolutionTranspose.backward(inputs[0], dy, attributes: a, parameters: parameters)
    case .input:
      return OpGradients(inputs: [])
    case .dense:
      return Dense.backward(inputs[0], dy, parameters: parameters)
    case .conv2d(let a):
      return Convolution.backward(inputs[0], dy, attributes: a, parameters: parameters)
    case .pool2d(let a):
      return Pooling.backward(inputs[0], output, dy, attributes: a, tie: policy.maxPoolTie)
    case .globalAveragePool2d:
      return Pooling.globalAverageBackward(inputs[0], dy)
    case .batchNorm(let epsilon, _, _):
      return BatchNormalization.backward(
        inputs[0], dy, saved: saved, epsilon: epsilon, parameters: parameters)
    case .layerNorm:
      return LayerNormalization.backward(dy, saved: saved, parameters: parameters)
    case .flatten, .reshape:
      return OpGradients(inputs: [dy.reshaped(inputs[0].shape)])
    case .dropout:
      return Structural.dropoutBackward(dy, saved: saved)
    case .add:
      return OpGradients(inputs: Array(repeating: dy, count: inputs.count))
    case .concatenate(let axis):
      return Structural.concatenateBackward(dy, axis: axis, inputs: inputs)
    case .activation(let function):
      return Elementwise.backward(function, inputs[0], output, dy, reluPrime: policy.reluPrime)
    case .softmax:
      return Elementwise.softmaxBackward(output, dy)
    }
  }
}
