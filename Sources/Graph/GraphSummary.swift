/// A table of a graph's nodes, for `inspect`-style listings.
public struct GraphSummary: Sendable, Codable, Equatable {
  public struct Row: Sendable, Codable, Equatable {
    public let name: String
    public let op: String
    public let inputs: [String]
    /// Per-sample output shape.
    public let shape: [Int]
    public let parameters: Int
    /// Whether the op stays affine (true) or becomes a population of neurons in conversion.
    public let affine: Bool
  }

  public let name: String
  public let inputs: [String]
  public let outputs: [String]
  public let rows: [Row]
  public let totalParameters: Int

  public init(_ graph: Graph) {
    name = graph.name
    inputs = graph.inputNodes.map(\.name)
    outputs = graph.outputs
    rows = graph.nodes.map {
      Row(
        name: $0.name, op: $0.op.kind, inputs: $0.inputs, shape: $0.shape, parameters: $0.parameterCount,
        affine: $0.op.isAffine)
    }
    totalParameters = graph.parameterCount
  }

  /// A fixed-width text table with a header and a total line.
  public var table: String {
    let header = ["layer", "op", "inputs", "output shape", "params"]
    let cells = rows.map {
      [
        $0.name, $0.op, $0.inputs.joined(separator: ", "),
        "(" + $0.shape.map(String.init).joined(separator: ", ") + ")", String($0.parameters),
      ]
    }
    let widths = header.indices.map { column in ([header] + cells).map { $0[column].count }.max() ?? 0 }
    func line(_ row: [String]) -> String {
      row.enumerated().map { column, text in
        column == row.count - 1
          ? String(repeating: " ", count: widths[column] - text.count) + text
          : text + String(repeating: " ", count: widths[column] - text.count)
      }.joined(separator: "  ")
    }
    let rule = String(repeating: "─", count: widths.reduce(0, +) + 2 * (widths.count - 1))
    return
      ([line(header), rule] + cells.map(line) + [
        rule, "\(name): \(rows.count) nodes, \(totalParameters) parameters",
      ])
      .joined(separator: "\n")
  }
}
