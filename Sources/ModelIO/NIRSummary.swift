import Foundation
import HDF5
import Spiking

/// What a NIR file holds, as `snnconv inspect` lists it: its version, its nodes with their type,
/// parameter shapes and metadata, and its edges (docs/nir.md). Reading it checks the layout,
/// not the semantics: running a NIR graph is another matter.
public struct NIRSummary: Sendable, Codable, Equatable {
  public struct NodeSummary: Sendable, Codable, Equatable {
    public let name: String
    public let type: String
    /// Each parameter's name and shape (`[]` for a scalar), sorted by name.
    public let parameters: [Parameter]
    /// The node's metadata entries that are strings.
    public let metadata: [String: String]
    /// The node's output shape as ``NIRGraph`` infers it (nil when the graph cannot be run).
    public let outputShape: [Int]?
  }

  public struct Parameter: Sendable, Codable, Equatable {
    public let name: String
    public let shape: [Int]
  }

  public let version: String
  public let nodes: [NodeSummary]
  public let edges: [[String]]
  /// Why `snnsim run` cannot run the graph (``NIRGraph``'s refusal), or nil when it can.
  public let problem: String?

  /// Whether `path` is an HDF5 file with a NIR graph at `/node`.
  public static func isNIRFile(_ path: String) -> Bool {
    guard let root = try? HDF5File.open(path).root, root.kind(of: "node") == .group,
      let node = try? root.group("node"), node.kind(of: "type") == .dataset
    else { return false }
    return (try? node.dataset("type").readStrings()) == ["NIRGraph"]
  }

  /// Reads the layout of the NIR file at `path` (``NIRReader/contents(of:)``).
  /// - Throws: ``ModelIOError/nir(file:detail:)`` naming what is missing or malformed.
  public init(path: String) throws {
    let contents = try NIRReader.contents(of: path)
    var shapes = [String: [Int]]()
    do {
      let graph = try NIRGraph(nodes: contents.nodes, edges: contents.edges)
      for node in graph.nodes { shapes[node.name] = node.shape }
      problem = nil
    } catch {
      problem = "\(error)"
    }
    version = contents.version
    nodes = contents.nodes.map { node in
      NodeSummary(
        name: node.name, type: node.type,
        parameters: node.parameters.keys.sorted().map { name in
          switch node.parameters[name]! {
          case .numbers(let shape, _): return Parameter(name: name, shape: shape)
          case .string: return Parameter(name: name, shape: [])
          }
        },
        metadata: node.metadata, outputShape: shapes[node.name])
    }
    edges = contents.edges.map { [$0.0, $0.1] }
  }

  /// The listing `snnconv inspect` prints.
  public var table: String {
    var lines = ["NIR \(version) graph: \(nodes.count) nodes, \(edges.count) edges"]
    lines.append(
      problem.map { "snnsim cannot run it: \($0)" } ?? "snnsim runs it (node output shapes after →)")
    for node in nodes {
      let parameters = node.parameters.map {
        "\($0.name) \($0.shape.isEmpty ? "scalar" : $0.shape.map(String.init).joined(separator: "×"))"
      }
      let metadata = node.metadata.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }
      lines.append(
        "  \(node.name)  \(node.type)"
          + (node.outputShape.map {
            " → " + ($0.isEmpty ? "scalar" : $0.map(String.init).joined(separator: "×"))
          } ?? "")
          + (parameters.isEmpty ? "" : "  " + parameters.joined(separator: ", "))
          + (metadata.isEmpty ? "" : "  [" + metadata.joined(separator: ", ") + "]"))
    }
    for edge in edges { lines.append("  \(edge[0]) → \(edge[1])") }
    return lines.joined(separator: "\n")
  }
}
