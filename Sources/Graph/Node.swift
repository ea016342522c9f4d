import Tensor

/// One operation of a network: what it computes, what it reads, and its parameters.
public struct Node: Sendable, Equatable, Codable {
  /// Unique within its graph (the Keras layer name for models read from Keras).
  public var name: String
  public var op: Op
  /// The names of the nodes whose outputs this node reads, in order.
  public var inputs: [String]
  /// Named parameter tensors (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance`).
  public var parameters: [String: Tensor<Float>]
  /// The per-sample output shape, filled in by ``Graph`` validation.
  public internal(set) var shape: [Int]

  public init(name: String, op: Op, inputs: [String] = [], parameters: [String: Tensor<Float>] = [:]) {
    self.name = name
    self.op = op
    self.inputs = inputs
    self.parameters = parameters
    if case .input(let shape) = op { self.shape = shape } else { self.shape = [] }
  }

  /// The number of parameter values.
  public var parameterCount: Int { parameters.values.reduce(0) { $0 + $1.count } }
}
