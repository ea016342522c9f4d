import ArgumentParser
import Tensor
import Training

extension Precision: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension Loss: ExpressibleByArgument {}
extension MaxTieRule: ExpressibleByArgument {}
extension ModelPreset: ExpressibleByArgument {}

/// Activation names accepted by `--activation`.
public enum ActivationChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
  case relu, gelu, silu, tanh, sigmoid, softplus, elu
  case leakyRelu = "leaky-relu"

  public var function: UnaryFunction {
    switch self {
    case .relu: return .relu
    case .gelu: return .gelu(.exact)
    case .silu: return .silu
    case .tanh: return .tanh
    case .sigmoid: return .sigmoid
    case .softplus: return .softplus
    case .elu: return .elu(alpha: 1)
    case .leakyRelu: return .leakyRelu(slope: 0.2)
    }
  }
}

/// Learning-rate schedule names accepted by `--schedule`.
public enum ScheduleChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
  case constant, step, cosine
}
