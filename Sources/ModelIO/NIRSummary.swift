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
  /// The graph's own `metadata/dt`, when it states one.
  public let dt: Double?
  /// The shortest and longest finite time constant of the neuron nodes (`tau`, `tau_mem`,
  /// `tau_syn`); nil without any.
  public let timeConstants: [Double]?
  /// The step the neuron parameters imply where they follow the convention of snnTorch and
  /// SpikingJelly (`r = 1/dt` on IF, `r = τ/dt` on LIF and CubaLIF, `w_in = τ_syn/dt`) and agree
  /// on one value; nil otherwise.
  public let impliedDt: Double?

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
    dt = contents.dt
    (timeConstants, impliedDt) = Self.timing(contents.nodes)
  }

  /// The range of the finite time constants, and the step the `r` and `w_in` parameters imply
  /// (when every one that differs from 1 implies the same step, within 0.1 %).
  static func timing(_ nodes: [NIRGraph.RawNode]) -> ([Double]?, Double?) {
    func values(_ node: NIRGraph.RawNode, _ name: String) -> [Double] {
      if case .numbers(_, let values)? = node.parameters[name] { return values }
      return []
    }
    var taus = [Double]()
    var implied = [Double]()
    for node in nodes {
      switch node.type {
      case "IF", "I":
        implied += values(node, "r").filter { $0.isFinite && $0 > 0 && $0 != 1 }.map { 1 / $0 }
      case "LIF", "LI", "CubaLIF", "CubaLI":
        let membrane = values(node, node.type.hasPrefix("Cuba") ? "tau_mem" : "tau")
        taus += membrane.filter(\.isFinite)
        for (tau, r) in zip(membrane, values(node, "r")) where tau.isFinite && r.isFinite && r > 0 && r != 1 {
          implied.append(tau / r)
        }
        if node.type.hasPrefix("Cuba") {
          let synapse = values(node, "tau_syn")
          taus += synapse.filter(\.isFinite)
          for (tau, w) in zip(synapse, values(node, "w_in"))
          where tau.isFinite && w.isFinite && w > 0 && w != 1 {
            implied.append(tau / w)
          }
        }
      default: continue
      }
    }
    let range = taus.isEmpty ? nil : [taus.min()!, taus.max()!]
    guard let first = implied.first, implied.allSatisfy({ abs($0 - first) <= 1e-3 * first }) else {
      return (range, nil)
    }
    return (range, first)
  }

  /// What the time constants say about the step to run with, one line (nil for a graph without
  /// leaky or scaled neurons).
  public var timingNote: String? {
    let f = { (value: Double) in String(format: "%g", value) }
    var parts = [String]()
    if let timeConstants {
      parts.append(
        timeConstants[0] == timeConstants[1]
          ? "time constants τ = \(f(timeConstants[0]))"
          : "time constants τ from \(f(timeConstants[0])) to \(f(timeConstants[1]))")
    }
    if let dt { parts.append("the graph states dt = \(f(dt))") }
    if let impliedDt {
      parts.append(
        "r = τ/dt (r = 1/dt on IF), the convention of snnTorch and SpikingJelly, implies dt = \(f(impliedDt)): run with --dt \(f(impliedDt))"
      )
    } else if let timeConstants, timeConstants[0] < (dt ?? 1) {
      parts.append(
        "a step of \(f(dt ?? 1)) exceeds the shortest τ, which forward Euler does not follow: run with --dt at most \(f(timeConstants[0])) (Norse writes τ for its default dt = 0.001)"
      )
    }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
  }

  /// The listing `snnconv inspect` prints.
  public var table: String {
    var lines = ["NIR \(version) graph: \(nodes.count) nodes, \(edges.count) edges"]
    lines.append(
      problem.map { "snnsim cannot run it: \($0)" } ?? "snnsim runs it (node output shapes after →)")
    if let timingNote { lines.append(timingNote) }
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
