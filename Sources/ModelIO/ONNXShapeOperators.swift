import Graph
import ONNXProto
import Tensor

extension ONNXGraphBuilder {
  /// Constants, casts, shapes and the operators that only move values: Constant, Identity, Dropout, Cast, Shape, Gather, Unsqueeze, Squeeze, Concat, Flatten, Reshape, Transpose, Pad.
  /// Returns false for any other operator.
  mutating func addShapeOperator(_ n: ONNXNode) throws -> Bool {
    let (onnx, base, output) = (n.proto, n.base, n.output)
    switch onnx.opType {
    case "Constant":
      guard let attribute = onnx.attribute.first else { throw failure("a Constant needs a value") }
      switch attribute.name {
      case "value": constants[output] = try constant(attribute.t)
      case "value_float": constants[output] = ONNXConstant(dims: [], floats: [attribute.f], integers: nil)
      case "value_floats":
        constants[output] = ONNXConstant(
          dims: [attribute.floats.count], floats: attribute.floats, integers: nil)
      case "value_int":
        constants[output] = ONNXConstant(dims: [], floats: [Float(attribute.i)], integers: [Int(attribute.i)])
      case "value_ints":
        let values = attribute.ints.map { Int($0) }
        constants[output] = ONNXConstant(
          dims: [values.count], floats: values.map(Float.init), integers: values)
      default: throw failure("Constant's '\(attribute.name)' is not supported")
      }

    case "Identity", "Dropout":
      if let constant = operand(n, 0).constant {
        constants[output] = constant
      } else {
        values[output] = try requireValue(n, 0)
      }

    case "Cast":
      let source = try requireConstant(n, 0, "input (a Cast of the network's tensors is not supported)")
      let to = n.int("to", 1)
      switch to {
      case 1, 11: constants[output] = ONNXConstant(dims: source.dims, floats: source.floats, integers: nil)
      case 6, 7:
        let integers = source.integers ?? source.floats.map { Int($0) }
        constants[output] = ONNXConstant(
          dims: source.dims, floats: integers.map(Float.init), integers: integers)
      default: throw failure("Cast to data type \(to) is not supported")
      }

    case "Shape":
      let value = try requireValue(n, 0)
      // The batch axis reads 0: in a Reshape's shape 0 copies the input's size.
      var dims = [0] + value.shape
      let start = n.int("start", 0)
      let end = n.int("end", dims.count)
      let clamp = { (k: Int) in min(max(k < 0 ? k + dims.count : k, 0), dims.count) }
      dims = Array(dims[clamp(start)..<max(clamp(start), clamp(end))])
      constants[output] = ONNXConstant(dims: [dims.count], floats: dims.map(Float.init), integers: dims)

    case "Gather":
      let data = try requireConstant(n, 0, "data (Gather of the network's tensors is not supported)")
      let indices = try requireConstant(n, 1, "indices")
      guard n.int("axis", 0) == 0, data.dims.count <= 1 else {
        throw failure("only Gather of a constant vector's entries is supported")
      }
      let length = data.dims.first ?? 1
      var picked = [Int]()
      for index in indices.integers ?? indices.floats.map({ Int($0) }) {
        let k = index < 0 ? index + length : index
        guard (0..<length).contains(k) else { throw failure("index \(index) outside 0..<\(length)") }
        picked.append(k)
      }
      constants[output] = ONNXConstant(
        dims: indices.dims, floats: picked.map { data.floats[$0] },
        integers: data.integers.map { i in picked.map { i[$0] } })

    case "Unsqueeze", "Squeeze":
      var axes = n.ints("axes")
      if axes == nil, let given = operand(n, 1).constant {
        axes = given.integers ?? given.floats.map { Int($0) }
      }
      if let source = operand(n, 0).constant {
        var dims = source.dims
        if onnx.opType == "Unsqueeze" {
          for axis in (axes ?? []).map({ $0 < 0 ? $0 + dims.count + (axes?.count ?? 0) : $0 }).sorted() {
            dims.insert(1, at: min(max(axis, 0), dims.count))
          }
        } else {
          let drop = Set(
            (axes ?? dims.indices.filter { dims[$0] == 1 }).map { $0 < 0 ? $0 + dims.count : $0 })
          dims = dims.indices.filter { !drop.contains($0) }.map { dims[$0] }
        }
        constants[output] = ONNXConstant(dims: dims, floats: source.floats, integers: source.integers)
        return true
      }
      let value = try plain(try requireValue(n, 0))
      var shape = [0] + value.shape
      if onnx.opType == "Unsqueeze" {
        guard let axes else { throw failure("Unsqueeze needs axes") }
        let rank = shape.count + axes.count
        for axis in axes.map({ $0 < 0 ? $0 + rank : $0 }).sorted() {
          guard axis >= 1, axis <= shape.count else { throw failure("cannot insert an axis at \(axis)") }
          shape.insert(1, at: axis)
        }
      } else {
        let drop = Set(
          (axes ?? shape.indices.dropFirst().filter { shape[$0] == 1 }).map { $0 < 0 ? $0 + shape.count : $0 }
        )
        guard !drop.contains(0), drop.allSatisfy({ shape.indices.contains($0) && shape[$0] == 1 }) else {
          throw failure("cannot squeeze axes \(axes ?? []) of a tensor of shape \(shape)")
        }
        shape = shape.indices.filter { !drop.contains($0) }.map { shape[$0] }
      }
      let result = Array(shape.dropFirst())
      set(n, try emit(base, .reshape(result), inputs: [value.node]), .plain, result)

    case "Concat":
      let axis = n.int("axis", 0)
      if allConstant(n) {
        let parts = onnx.input.map { constants[$0]! }
        guard parts.allSatisfy({ $0.dims.count <= 1 }) else {
          throw failure("only Concat of constant vectors is folded")
        }
        let integers = parts.allSatisfy { $0.integers != nil } ? parts.flatMap { $0.integers! } : nil
        let floats = parts.flatMap(\.floats)
        constants[output] = ONNXConstant(dims: [floats.count], floats: floats, integers: integers)
        return true
      }
      var parts = [ONNXValue]()
      for k in onnx.input.indices { parts.append(try requireValue(n, k)) }
      let rank = parts[0].shape.count + 1
      let resolved = axis < 0 ? axis + rank : axis
      guard resolved >= 1, resolved < rank else { throw failure("cannot join along the batch axis") }
      if parts.allSatisfy({ $0.layout == .channelsLast }) && resolved == 1 {
        var shape = parts[0].shape
        shape[0] = parts.reduce(0) { $0 + $1.shape[0] }
        set(n, try emit(base, .concatenate(axis: -1), inputs: parts.map(\.node)), .channelsLast, shape)
      } else {
        var plainParts = [ONNXValue]()
        for part in parts { plainParts.append(try plain(part)) }
        var shape = plainParts[0].shape
        shape[resolved - 1] = plainParts.reduce(0) { $0 + $1.shape[resolved - 1] }
        set(
          n,
          try emit(base, .concatenate(axis: resolved - 1), inputs: plainParts.map(\.node)), .plain, shape)
      }

    case "Flatten":
      let value = try plain(try requireValue(n, 0))
      let axis = n.int("axis", 1)
      let rank = value.shape.count + 1
      guard (axis < 0 ? axis + rank : axis) == 1 else { throw failure("only Flatten at axis 1 is supported") }
      if value.shape.count == 1 {
        values[output] = value
      } else {
        let count = value.shape.reduce(1, *)
        set(n, try emit(base, .flatten, inputs: [value.node]), .plain, [count])
      }

    case "Reshape":
      if let source = operand(n, 0).constant {
        let shape = try requireConstant(n, 1, "shape")
        constants[output] = ONNXConstant(
          dims: shape.integers ?? [], floats: source.floats, integers: source.integers)
        return true
      }
      let value = try plain(try requireValue(n, 0))
      let requested = try requireConstant(n, 1, "shape")
      guard let target = requested.integers, !target.isEmpty else {
        throw failure("the target shape must be a constant integer vector")
      }
      let full = [0] + value.shape
      let total = value.shape.reduce(1, *)
      var shape = target.enumerated().map { k, size in
        size == 0 && n.int("allowzero", 0) == 0 && k < full.count ? full[k] : size
      }
      // A model exported for a fixed batch (torch.onnx.export without dynamic shapes) names
      // that size where the batch goes; the graph runs any batch.
      guard shape[0] == 0 || shape[0] == -1 || target[0] == 0 || target[0] == fixedBatch else {
        throw failure("a Reshape must keep the batch axis first (target \(target))")
      }
      shape.removeFirst()
      if let unknown = shape.firstIndex(of: -1) {
        let known = shape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
        guard known > 0, total % known == 0 else {
          throw failure("cannot reshape \(value.shape) to \(target)")
        }
        shape[unknown] = total / known
      }
      guard shape.allSatisfy({ $0 >= 1 }), shape.reduce(1, *) == total else {
        throw failure("cannot reshape \(value.shape) to \(target)")
      }
      if shape == value.shape {
        values[output] = value
      } else if shape.count == 1 {
        set(n, try emit(base, .flatten, inputs: [value.node]), .plain, shape)
      } else {
        set(n, try emit(base, .reshape(shape), inputs: [value.node]), .plain, shape)
      }

    case "Transpose":
      let value = try plain(try requireValue(n, 0))
      let rank = value.shape.count + 1
      let perm = n.ints("perm") ?? Array((0..<rank).reversed())
      guard perm.count == rank, perm.first == 0, Set(perm) == Set(0..<rank) else {
        throw failure("only permutations that keep the batch axis first are supported, got \(perm)")
      }
      let order = perm.dropFirst().map { $0 - 1 }
      let shape = order.map { value.shape[$0] }
      set(n, try emit(base, .permute(order: order), inputs: [value.node]), .plain, shape)

    case "Pad":
      let value = try channelsLast(try requireValue(n, 0))
      let mode = n.string("mode") ?? "constant"
      guard mode == "constant" else { throw failure("Pad mode '\(mode)' is not supported (only constant)") }
      var pads = n.ints("pads")
      if pads == nil, let given = operand(n, 1).constant { pads = given.integers }
      if let fill = operand(n, 2).constant, fill.floats.contains(where: { $0 != 0 }) {
        throw failure("only padding with zeros is supported")
      }
      guard let pads, pads.count == 8, pads.allSatisfy({ $0 >= 0 }),
        [0, 1, 4, 5].allSatisfy({ pads[$0] == 0 })
      else { throw failure("only non-negative padding of an image's height and width is supported") }
      let node = try emit(
        base, .zeroPad2d(top: pads[2], bottom: pads[6], left: pads[3], right: pads[7]), inputs: [value.node])
      let out = shapes[node]!
      set(n, node, .channelsLast, [out[2], out[0], out[1]])

    default:
      return false
    }
    return true
  }
}
