/// The order a step runs a NIR graph's nodes in, recurrent edges, and the shapes they give.
extension NIRGraph {
  /// The nodes in the order a step runs them (`order`, positions in `raw`; `sources` by new
  /// position), each prepared from its first source whose shape is known — one that runs
  /// before it or, for a node fed only through cycles, the first prepared.
  static func built(_ raw: [RawNode], order: [Int], sources: [[Int]], dt: Double) throws -> [Node] {
    var prepared = [(operation: Operation, shape: [Int])?](repeating: nil, count: order.count)
    var progress = true
    while progress {
      progress = false
      for (k, old) in order.enumerated() where prepared[k] == nil {
        let node = raw[old]
        if node.type == "Input" {
          guard sources[k].isEmpty else {
            throw NIRGraphError(node: node.name, "an Input node cannot have incoming edges")
          }
        } else if sources[k].isEmpty {
          throw NIRGraphError(node: node.name, "no edge leads into this \(node.type) node")
        }
        let known = sources[k].compactMap { prepared[$0]?.shape }
        guard node.type == "Input" || !known.isEmpty else { continue }
        if let first = known.first, let other = known.first(where: { $0.reduce(1, *) != first.reduce(1, *) })
        {
          throw NIRGraphError(
            node: node.name,
            "its inputs differ in size (\(Self.text(first)) and \(Self.text(other))); edges into one node are added"
          )
        }
        prepared[k] = try Self.prepare(node, input: known.first, dt: dt)
        progress = true
      }
    }
    if let k = prepared.firstIndex(where: { $0 == nil }) {
      throw NIRGraphError(
        node: raw[order[k]].name,
        "only edges within a cycle that nothing before it feeds lead into it, so its input has no shape (a recurrent edge brings the previous step's output of a node fed from outside the cycle)"
      )
    }
    let built = order.enumerated().map { k, old in
      Node(
        name: raw[old].name, type: raw[old].type, operation: prepared[k]!.operation,
        shape: prepared[k]!.shape,
        sources: sources[k])
    }
    for (k, node) in built.enumerated() {
      let first = built[node.sources.first { $0 < k } ?? node.sources.first ?? k]
      for source in node.sources where built[source].count != first.count {
        throw NIRGraphError(
          node: node.name,
          "its inputs differ in size (\(Self.text(first.shape)) and \(Self.text(built[source].shape))); edges into one node are added"
        )
      }
    }
    return built
  }

  /// Node positions in the order a step runs them: every edge goes forward except those that
  /// close a cycle — found by a depth-first walk back along the edges from each node in the
  /// file's order, an edge from a node still on the walk's path — which carry the previous
  /// step's output.
  static func executionOrder(_ nodes: [RawNode], incoming: [[Int]]) -> [Int] {
    var state = [UInt8](repeating: 0, count: nodes.count)  // 0 new, 1 on the path, 2 done
    var order = [Int]()
    // Iterative depth-first search: a deep chain must not exhaust the stack.
    for root in nodes.indices where state[root] == 0 {
      var stack: [(node: Int, next: Int)] = [(root, 0)]
      state[root] = 1
      while let top = stack.last {
        if top.next < incoming[top.node].count {
          stack[stack.count - 1].next += 1
          let source = incoming[top.node][top.next]
          if state[source] == 0 {
            state[source] = 1
            stack.append((source, 0))
          }
        } else {
          state[top.node] = 2
          order.append(top.node)
          stack.removeLast()
        }
      }
    }
    return order
  }
}
