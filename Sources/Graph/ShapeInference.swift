import Tensor

/// Per-sample output shapes of each op, with errors that say what does not fit.
enum ShapeInference {
  /// The output shape of `node`, refused when its elements per sample pass
  /// ``Graph/maximumElements`` (products checked, never trapping).
  static func outputShape(of node: Node, inputShapes: [[Int]]) throws -> [Int] {
    let shape = try uncheckedOutputShape(of: node, inputShapes: inputShapes)
    guard Graph.elementCount(shape) != nil else {
      throw GraphError.tooLarge(node: node.name, what: "an output", shape: shape)
    }
    return shape
  }

  static func uncheckedOutputShape(of node: Node, inputShapes: [[Int]]) throws -> [Int] {
    func mismatch(_ detail: String) -> GraphError {
      .shapeMismatch(node: node.name, op: node.op.kind, detail: detail)
    }
    func bad(_ detail: String) -> GraphError { .badAttribute(node: node.name, detail: detail) }
    let input = inputShapes.first ?? []
    switch node.op {
    case .input(let shape):
      guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
        throw bad("input shape \(shape) must be positive")
      }
      return shape
    case .dense(let units, _):
      guard units > 0 else { throw bad("Dense needs at least one unit, got \(units)") }
      guard !input.isEmpty else { throw mismatch("needs an input with a feature axis, got shape \(input)") }
      return input.dropLast() + [units]
    case .conv2d(let a):
      guard a.filters > 0, a.kernelSize.count == 2, a.strides.count == 2, a.dilation.count == 2,
        a.dilation.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }), a.kernelSize.allSatisfy({ $0 <= 1 << 16 }),
        a.groups > 0
      else {
        throw bad("Conv2D needs filters > 0, groups > 0 and 2-D kernel, strides and dilation, got \(a)")
      }
      guard input.count == 3 else { throw mismatch("needs (height, width, channels) input, got \(input)") }
      guard input[2] % a.groups == 0, a.filters % a.groups == 0 else {
        throw mismatch(
          "\(a.groups) groups must divide the \(input[2]) input channels and \(a.filters) filters")
      }
      guard let window = a.window(input: input) else {
        throw mismatch("kernel \(a.kernelSize) with strides \(a.strides) does not fit input \(input)")
      }
      return [window.outputHeight, window.outputWidth, a.filters]
    case .pool2d(let a), .windowElement(let a, _, _):
      guard a.size.count == 2, a.strides.count == 2 else { throw bad("pooling needs 2-D size and strides") }
      if case .windowElement(_, let row, let column) = node.op,
        !(0..<a.size[0]).contains(row) || !(0..<a.size[1]).contains(column)
      {
        throw bad("window element (\(row), \(column)) outside the window \(a.size)")
      }
      guard input.count == 3 else { throw mismatch("needs (height, width, channels) input, got \(input)") }
      guard let window = a.window(input: input) else {
        throw mismatch("window \(a.size) with strides \(a.strides) does not fit input \(input)")
      }
      return [window.outputHeight, window.outputWidth, input[2]]
    case .globalAveragePool2d:
      guard input.count == 3 else { throw mismatch("needs (height, width, channels) input, got \(input)") }
      return [input[2]]
    case .flatten:
      return [input.reduce(1, *)]
    case .reshape(let target):
      let known = target.filter { $0 != -1 }
      let wildcards = target.count - known.count
      guard wildcards <= 1, known.allSatisfy({ $0 > 0 }), !target.isEmpty else {
        throw bad("reshape target \(target) may hold one -1 and otherwise positive sizes")
      }
      let total = input.reduce(1, *)  // the input's own shape was checked
      guard let product = Graph.elementCount(known) else {
        throw GraphError.tooLarge(node: node.name, what: "a reshape target", shape: target)
      }
      if wildcards == 1 {
        guard total % product == 0 else { throw mismatch("cannot reshape \(input) to \(target)") }
        return target.map { $0 == -1 ? total / product : $0 }
      }
      guard product == total else { throw mismatch("cannot reshape \(input) (\(total) values) to \(target)") }
      return target
    case .batchNorm(let epsilon, _, _), .layerNorm(let epsilon, _, _):
      guard epsilon >= 0 else { throw bad("epsilon must be ≥ 0, got \(epsilon)") }
      guard !input.isEmpty else { throw mismatch("needs a feature axis") }
      return input
    case .dropout(let rate):
      guard rate >= 0 && rate < 1 else { throw bad("dropout rate must be in [0, 1), got \(rate)") }
      return input
    case .activation, .softmax, .lastAxis:
      return input
    case .lastAxisRotation:
      guard !input.isEmpty else { throw mismatch("needs a feature axis") }
      return input
    case .scaleShift:
      guard !input.isEmpty else { throw mismatch("needs a feature axis") }
      return input
    case .zeroPad2d(let top, let bottom, let left, let right),
      .crop2d(let top, let bottom, let left, let right):
      guard input.count == 3 else { throw mismatch("needs (height, width, channels) input, got \(input)") }
      guard [top, bottom, left, right].allSatisfy({ $0 >= 0 && $0 <= Graph.maximumElements }) else {
        throw bad("amounts (top, bottom, left, right) must be ≥ 0, got \([top, bottom, left, right])")
      }
      if case .crop2d = node.op, top + bottom >= input[0] || left + right >= input[1] {
        throw mismatch("cropping \([top, bottom, left, right]) leaves nothing of \(input)")
      }
      return Structural.selectionShape(node.op, input: input)
    case .upSample2d(let rows, let columns), .spread2d(let rows, let columns):
      guard input.count == 3 else { throw mismatch("needs (height, width, channels) input, got \(input)") }
      guard rows >= 1, columns >= 1, input[0] * rows <= Graph.maximumElements,
        input[1] * columns <= Graph.maximumElements
      else {
        throw bad("factors (rows, columns) must be at least 1, got \([rows, columns])")
      }
      return Structural.selectionShape(node.op, input: input)
    case .conv2dTranspose(let a):
      guard a.filters > 0, a.kernelSize.count == 2, a.strides.count == 2,
        a.kernelSize.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }),
        a.strides.allSatisfy({ $0 > 0 && $0 <= 1 << 16 })
      else {
        throw bad(
          "Conv2DTranspose needs filters > 0 and a 2-D kernel and strides of positive sizes, got \(a)")
      }
      guard a.groups == 1, a.dilation == [1, 1] else {
        throw bad(
          "Conv2DTranspose with groups or dilation is not supported (groups \(a.groups), dilation \(a.dilation))"
        )
      }
      guard input.count == 3 else { throw mismatch("needs (height, width, channels) input, got \(input)") }
      let size = ConvolutionTranspose.outputSize(a, height: input[0], width: input[1])
      guard size.allSatisfy({ $0 <= Graph.maximumElements }) else {
        throw mismatch("output \(size) of input \(input) is too large")
      }
      return size + [a.filters]
    case .permute(let order):
      guard order.sorted() == Array(0..<input.count) else {
        throw mismatch("order \(order) is not a permutation of the \(input.count) axes of \(input)")
      }
      return Structural.selectionShape(node.op, input: input)
    case .binary:
      guard inputShapes.count == 2, inputShapes[1] == input else {
        throw mismatch("needs two inputs of equal shape, got \(inputShapes)")
      }
      return input
    case .add:
      for (position, shape) in inputShapes.enumerated() where shape != input {
        throw mismatch(
          "input \(position) '\(node.inputs[position])' has shape \(shape), input 0 '\(node.inputs[0])' has \(input)"
        )
      }
      return input
    case .concatenate(let given):
      let axis = given < 0 ? given + input.count : given
      guard axis >= 0 && axis < input.count else {
        throw bad("axis \(given) is outside the per-sample rank \(input.count)")
      }
      var result = input
      for (position, shape) in inputShapes.enumerated().dropFirst() {
        var expected = input
        if shape.count == input.count { expected[axis] = shape[axis] }
        guard shape == expected else {
          throw mismatch(
            "input \(position) '\(node.inputs[position])' has shape \(shape), incompatible with \(input) on axis \(axis)"
          )
        }
        result[axis] += shape[axis]
      }
      return result
    }
  }
}
