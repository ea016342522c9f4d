/// Why a graph is invalid. Every case names the node (and, for edges, both ends).
public enum GraphError: Error, Equatable, Sendable {
  case duplicateName(String)
  /// `node` lists an input that no node produces.
  case unknownInput(node: String, input: String)
  /// The nodes named lie on a cycle (or depend on one).
  case cycle([String])
  /// `node` has the wrong number of inputs for its op.
  case arity(node: String, op: String, expected: String, actual: Int)
  /// The input shapes do not fit the op; `detail` says how.
  case shapeMismatch(node: String, op: String, detail: String)
  case missingParameter(node: String, parameter: String, expectedShape: [Int])
  case unexpectedParameter(node: String, parameter: String)
  case parameterShape(node: String, parameter: String, expected: [Int], actual: [Int])
  /// A parameter holds NaN or ±∞.
  case nonFiniteParameter(node: String, parameter: String, index: Int)
  /// An attribute value that makes no sense (zero units, a negative rate …).
  case badAttribute(node: String, detail: String)
  case unknownOutput(String)
  case noInputs
  /// A tensor of more elements than ``Graph/maximumElements`` (or whose size overflows).
  case tooLarge(node: String, what: String, shape: [Int])
}

extension GraphError: CustomStringConvertible {
  public var description: String {
    switch self {
    case .duplicateName(let name): return "two nodes are named '\(name)'"
    case .unknownInput(let node, let input): return "'\(input)' → '\(node)': no node named '\(input)'"
    case .cycle(let nodes):
      return "the graph has a cycle through \(nodes.map { "'\($0)'" }.joined(separator: ", "))"
    case .arity(let node, let op, let expected, let actual):
      return "'\(node)' (\(op)) takes \(expected) input(s), got \(actual)"
    case .shapeMismatch(let node, let op, let detail): return "'\(node)' (\(op)): \(detail)"
    case .missingParameter(let node, let parameter, let shape):
      return "'\(node)' is missing its '\(parameter)' parameter (shape \(shape))"
    case .unexpectedParameter(let node, let parameter):
      return "'\(node)' has a parameter '\(parameter)' its op does not use"
    case .parameterShape(let node, let parameter, let expected, let actual):
      return "'\(node)': parameter '\(parameter)' has shape \(actual), expected \(expected)"
    case .nonFiniteParameter(let node, let parameter, let index):
      return "'\(node)': parameter '\(parameter)' holds a non-finite value (NaN or ∞) at index \(index)"
    case .badAttribute(let node, let detail): return "'\(node)': \(detail)"
    case .unknownOutput(let name): return "output '\(name)' is not a node of the graph"
    case .noInputs: return "the graph has no input node"
    case .tooLarge(let node, let what, let shape):
      return
        "'\(node)': \(what) of shape \(shape) exceeds the \(Graph.maximumElements) elements a tensor may hold"
    }
  }
}
