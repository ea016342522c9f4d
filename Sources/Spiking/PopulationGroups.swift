/// How tables list populations: each on its own, except the many populations of one decomposed
/// layer — the steps of a decomposition are named `layer/step` and its last population `layer`
/// (docs/dynamics.md, "Targets"); a global max pooling over 14×14 makes 195 of them — which are
/// listed once, as the layer, with how many populations it holds.
public enum PopulationGroups {
  /// Layers with at most this many populations are listed population by population.
  public static let listedInFull = 8

  /// One table entry: the label, the population that stands for the entry (the layer's own
  /// output population where it is one, else its last) and the populations it covers.
  public struct Entry: Sendable, Equatable {
    public let label: String
    public let representative: Int
    public let members: [Int]
  }

  /// The entries for populations named `names`, in order of first appearance.
  public static func entries(_ names: [String]) -> [Entry] {
    func layer(_ name: String) -> String { name.split(separator: "/").first.map(String.init) ?? name }
    var members = [String: [Int]]()
    var order = [String]()
    for (index, name) in names.enumerated() {
      let key = layer(name)
      if members[key] == nil { order.append(key) }
      members[key, default: []].append(index)
    }
    return order.flatMap { key -> [Entry] in
      let indices = members[key]!
      guard indices.count > listedInFull else {
        return indices.map { Entry(label: names[$0], representative: $0, members: [$0]) }
      }
      let representative = indices.first { names[$0] == key } ?? indices.last!
      return [
        Entry(
          label: "\(key) (\(indices.count) populations)", representative: representative, members: indices)
      ]
    }
  }
}
