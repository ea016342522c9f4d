import Graph
import HDF5
import Spiking

/// Reads NIR files as `nir.write` lays them out (nir 1.0.8; docs/nir.md): a `/version`
/// string and a `/node` group of type `NIRGraph` with `nodes/<name>/` groups (a `type` string,
/// one dataset per parameter, an optional `metadata/` group) and an N×2 `edges` dataset of
/// names. The files come from other tools and are untrusted: every size is checked before
/// anything is allocated for it, and every refusal names the file and the node.
public enum NIRReader {
  /// What a NIR file holds, before the graph is understood.
  public struct Contents: Sendable {
    public let version: String
    public let nodes: [NIRGraph.RawNode]
    public let edges: [(String, String)]
    /// The graph's `metadata/dt`: the step its writer simulated, in the unit of its time
    /// constants (nil when the file does not say).
    public let dt: Double?
  }

  /// The graph in the NIR file at `path`, ready to run with steps of `dt`: the one given, else
  /// the file's `metadata/dt`, else 1.
  /// - Throws: ``ModelIOError/nir(file:detail:)`` naming what is missing, malformed or not
  ///   supported, and where.
  public static func read(_ path: String, dt: Double? = nil) throws -> NIRGraph {
    let contents = try contents(of: path)
    do {
      return try NIRGraph(nodes: contents.nodes, edges: contents.edges, dt: dt ?? contents.dt ?? 1)
    } catch let error as NIRGraphError {
      throw ModelIOError.nir(file: path, detail: "\(error)")
    }
  }

  /// Reads the layout of the NIR file at `path`: versions, nodes with their parameters and
  /// metadata, edges (every edge's ends name nodes).
  /// - Throws: ``ModelIOError/nir(file:detail:)`` or ``ModelIOError/hdf5(_:)``.
  public static func contents(of path: String) throws -> Contents {
    func bad(_ detail: String) -> ModelIOError { .nir(file: path, detail: detail) }
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
      var nodes = [NIRGraph.RawNode]()
      for name in try group.children().sorted() {
        guard group.kind(of: name) == .group else { throw bad("node '\(name)' is not a group") }
        nodes.append(try node(name, in: try group.group(name), bad: bad))
      }
      var edges = [(String, String)]()
      if graph.kind(of: "edges") == .dataset {
        let dataset = try graph.dataset("edges")
        let shape = try dataset.shape
        guard shape.contains(0) || shape.count == 2 && shape[1] == 2 && Graph.elementCount(shape) != nil
        else {
          throw bad("'edges' must be an N×2 dataset of node names, got shape \(shape)")
        }
        let strings = shape.contains(0) ? [] : try dataset.readStrings()
        guard strings.count == shape.reduce(1, *) else {
          throw bad("'edges' holds \(strings.count) names for shape \(shape)")
        }
        let names = Set(nodes.map(\.name))
        for k in stride(from: 0, to: strings.count, by: 2) {
          for end in [strings[k], strings[k + 1]] where !names.contains(end) {
            throw bad("edge \(strings[k]) → \(strings[k + 1]) names no node '\(end)'")
          }
          edges.append((strings[k], strings[k + 1]))
        }
      }
      var dt: Double? = nil
      if graph.kind(of: "metadata") == .group {
        let metadata = try graph.group("metadata")
        if metadata.kind(of: "dt") == .dataset {
          let dataset = try metadata.dataset("dt")
          guard try dataset.elementType.isNumeric, try dataset.shape.reduce(1, *) == 1,
            let value = try dataset.read(as: Double.self).first, value.isFinite, value > 0
          else { throw bad("the graph's metadata/dt must be one positive, finite number") }
          dt = value
        }
      }
      return Contents(version: version, nodes: nodes, edges: edges, dt: dt)
    } catch let error as HDF5Error {
      throw ModelIOError.hdf5(error)
    }
  }

  private static func node(
    _ name: String, in group: HDF5Group, bad: (String) -> ModelIOError
  ) throws -> NIRGraph.RawNode {
    guard group.kind(of: "type") == .dataset, let type = try group.dataset("type").readStrings().first else {
      throw bad("node '\(name)' has no 'type' string")
    }
    if type == "NIRGraph" { throw bad("node '\(name)' is a nested NIRGraph; subgraphs are not supported") }
    var parameters = [String: NIRGraph.Value]()
    var metadata = [String: String]()
    for child in try group.children().sorted() where child != "type" {
      switch group.kind(of: child) {
      case .dataset:
        let dataset = try group.dataset(child)
        if try dataset.elementType == .string {
          let strings = try dataset.readStrings()
          guard strings.count == 1 else {
            throw bad("node '\(name)': parameter '\(child)' holds \(strings.count) strings; one was expected")
          }
          parameters[child] = .string(strings[0])
        } else {
          let shape = try dataset.shape
          guard Graph.elementCount(shape) != nil || shape.contains(0) else {
            throw bad(
              "node '\(name)': parameter '\(child)' has shape \(shape), more than the \(Graph.maximumElements) values allowed"
            )
          }
          guard try dataset.elementType.isNumeric else {
            throw bad(
              "node '\(name)': parameter '\(child)' is stored as \(try dataset.elementType), not numbers")
          }
          parameters[child] = .numbers(shape: shape, values: try dataset.read(as: Double.self))
        }
      case .group where child == "metadata":
        let entries = try group.group(child)
        for key in try entries.children() where entries.kind(of: key) == .dataset {
          let dataset = try entries.dataset(key)
          if try dataset.elementType == .string, let value = try dataset.readStrings().first {
            metadata[key] = value
          }
        }
      case .group where child == "input_type" || child == "output_type":
        // Type annotations some writers add; the graph's shapes are inferred instead.
        continue
      default:
        throw bad("node '\(name)' has an unexpected member '\(child)'")
      }
    }
    return NIRGraph.RawNode(name: name, type: type, parameters: parameters, metadata: metadata)
  }
}
