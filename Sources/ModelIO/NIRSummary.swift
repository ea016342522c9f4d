import Foundation
import HDF5

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
  }

  public struct Parameter: Sendable, Codable, Equatable {
    public let name: String
    public let shape: [Int]
  }

  public let version: String
  public let nodes: [NodeSummary]
  public let edges: [[String]]

  /// Whether `path` is an HDF5 file with a NIR graph at `/node`.
  public static func isNIRFile(_ path: String) -> Bool {
    guard let root = try? HDF5File.open(path).root, root.kind(of: "node") == .group,
      let node = try? root.group("node"), node.kind(of: "type") == .dataset
    else { return false }
    return (try? node.dataset("type").readStrings()) == ["NIRGraph"]
  }

  /// Reads the layout of the NIR file at `path`.
  /// - Throws: ``ModelIOError/badConfig(file:detail:)`` naming what is missing or malformed.
  public init(path: String) throws {
    func bad(_ detail: String) -> ModelIOError { .badConfig(file: path, detail: detail) }
    do {
      let root = try HDF5File.open(path).root
      guard root.kind(of: "version") == .dataset,
        let version = try root.dataset("version").readStrings().first
      else { throw bad("no /version string: not a NIR file") }
      guard root.kind(of: "node") == .group else { throw bad("no /node group: not a NIR file") }
      let graph = try root.group("node")
      guard graph.kind(of: "type") == .dataset, try graph.dataset("type").readStrings() == ["NIRGraph"] else {
        throw bad("/node is not a NIRGraph (its 'type' dataset must say NIRGraph)")
      }
      guard graph.kind(of: "nodes") == .group else { throw bad("the graph has no 'nodes' group") }
      let group = try graph.group("nodes")
      var nodes = [NodeSummary]()
      for name in try group.children().sorted() {
        guard group.kind(of: name) == .group else { throw bad("node '\(name)' is not a group") }
        let node = try group.group(name)
        guard node.kind(of: "type") == .dataset, let type = try node.dataset("type").readStrings().first
        else {
          throw bad("node '\(name)' has no 'type' string")
        }
        var parameters = [Parameter]()
        var metadata = [String: String]()
        for child in try node.children().sorted() where child != "type" {
          switch node.kind(of: child) {
          case .dataset: parameters.append(Parameter(name: child, shape: try node.dataset(child).shape))
          case .group where child == "metadata":
            let entries = try node.group(child)
            for key in try entries.children() where entries.kind(of: key) == .dataset {
              if let value = try? entries.dataset(key).readStrings().first { metadata[key] = value }
            }
          default: throw bad("node '\(name)' has an unexpected member '\(child)'")
          }
        }
        nodes.append(NodeSummary(name: name, type: type, parameters: parameters, metadata: metadata))
      }
      var edges = [[String]]()
      if graph.kind(of: "edges") == .dataset {
        let dataset = try graph.dataset("edges")
        let strings = try dataset.readStrings()
        guard try dataset.shape.last == 2 || strings.isEmpty, strings.count % 2 == 0 else {
          throw bad("'edges' must be an N×2 dataset of node names, got shape \(try dataset.shape)")
        }
        let names = Set(nodes.map(\.name))
        for k in stride(from: 0, to: strings.count, by: 2) {
          for end in [strings[k], strings[k + 1]] where !names.contains(end) {
            throw bad("edge \(strings[k]) → \(strings[k + 1]) names no node '\(end)'")
          }
          edges.append([strings[k], strings[k + 1]])
        }
      }
      self.version = version
      self.nodes = nodes
      self.edges = edges
    } catch let error as HDF5Error {
      throw ModelIOError.hdf5(error)
    }
  }

  /// The listing `snnconv inspect` prints.
  public var table: String {
    var lines = ["NIR \(version) graph: \(nodes.count) nodes, \(edges.count) edges"]
    for node in nodes {
      let parameters = node.parameters.map {
        "\($0.name) \($0.shape.isEmpty ? "scalar" : $0.shape.map(String.init).joined(separator: "×"))"
      }
      let metadata = node.metadata.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }
      lines.append(
        "  \(node.name)  \(node.type)"
          + (parameters.isEmpty ? "" : "  " + parameters.joined(separator: ", "))
          + (metadata.isEmpty ? "" : "  [" + metadata.joined(separator: ", ") + "]"))
    }
    for edge in edges { lines.append("  \(edge[0]) → \(edge[1])") }
    return lines.joined(separator: "\n")
  }
}
