import Graph

/// A node's parameters, read with checks that name the node and the parameter.
struct NIRParameters {
  let node: NIRGraph.RawNode

  func fail(_ name: String, _ detail: String) -> NIRGraphError {
    NIRGraphError(node: node.name, "'\(name)' \(detail)")
  }

  func numbers(_ name: String) throws -> (shape: [Int], values: [Double]) {
    switch node.parameters[name] {
    case .numbers(let shape, let values)?: return (shape, values)
    case .string(let text)?: throw fail(name, "must be numbers, got the string \"\(text)\"")
    case nil: throw fail(name, "is missing")
    }
  }

  /// - Parameter allowingInfinity: accept +∞ (time constants without leak and the factors
  ///   paired with them).
  func floats(_ name: String, allowingInfinity: Bool = false) throws -> (shape: [Int], values: [Float]) {
    let (shape, values) = try numbers(name)
    if let k = values.firstIndex(where: {
      !(allowingInfinity && $0 == .infinity)
        && (!$0.isFinite || abs($0) > Double(Float.greatestFiniteMagnitude))
    }) {
      throw fail(
        name,
        "holds \(values[k]) at element \(k); every value must be a finite float32\(allowingInfinity ? " or +∞" : "")"
      )
    }
    return (shape, values.map { Float($0) })
  }

  func integers(_ name: String) throws -> [Int] {
    let (_, values) = try numbers(name)
    return try values.map {
      guard $0 == $0.rounded(), abs($0) <= Double(Graph.maximumElements) else {
        throw fail(name, "must hold whole numbers, got \($0)")
      }
      return Int($0)
    }
  }

  func optionalIntegers(_ name: String) throws -> [Int]? {
    node.parameters[name] == nil ? nil : try integers(name)
  }

  func integer(_ name: String) throws -> Int {
    let values = try integers(name)
    guard values.count == 1 else { throw fail(name, "must be one number, got \(values.count)") }
    return values[0]
  }

  /// A size along height and width: one number for both, or two.
  func pair(_ name: String) throws -> (Int, Int) {
    let values = try integers(name)
    switch values.count {
    case 1: return (values[0], values[0])
    case 2: return (values[0], values[1])
    default: throw fail(name, "must be one number or two (height, width), got \(values.count)")
    }
  }

  /// A per-element parameter expanded to `shape`: broadcast as numpy does (aligned on the
  /// right, a dimension of 1 repeated), or taken as it is when it holds exactly as many values.
  func expanded(_ name: String, to shape: [Int], allowingInfinity: Bool = false) throws -> [Float] {
    let (stored, values) = try floats(name, allowingInfinity: allowingInfinity)
    let count = shape.reduce(1, *)
    if values.count == count { return values }
    guard stored.count <= shape.count,
      zip(stored.reversed(), shape.reversed()).allSatisfy({ $0 == $1 || $0 == 1 }), !values.isEmpty
    else {
      throw fail(
        name,
        "has shape \(NIRGraph.text(stored)), which does not fit the node's input \(NIRGraph.text(shape))")
    }
    let padded = [Int](repeating: 1, count: shape.count - stored.count) + stored
    // Strides of the stored array, 0 along broadcast dimensions.
    var strides = [Int](repeating: 0, count: shape.count)
    var step = 1
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
      strides[d] = padded[d] == 1 ? 0 : step
      step *= padded[d]
    }
    var result = [Float](repeating: 0, count: count)
    for index in 0..<count {
      var rest = index
      var source = 0
      for d in stride(from: shape.count - 1, through: 0, by: -1) {
        source += (rest % shape[d]) * strides[d]
        rest /= shape[d]
      }
      result[index] = values[source]
    }
    return result
  }
}

/// Why a NIR graph cannot be run: the node (when one is at fault) and what is wrong.
