import Foundation
import TestSupport
import Testing

/// docs/architecture.md's module table says what each target imports; Package.swift decides it.
/// This holds the two together: a target added, removed or rewired in one and not the other
/// fails here, naming it.
struct ArchitectureDocTests {
  /// The packages the manifest names, by the name the table uses for them.
  static let packages = ["swift-numerics", "swift-protobuf", "swift-argument-parser"]

  /// Every library and executable target of Package.swift (not the tests' own) with its
  /// dependencies: target names, and packages for `.product(…, package: …)`.
  static func manifestTargets() throws -> [String: Set<String>] {
    let manifest = try String(
      contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
    var targets = [String: Set<String>]()
    // Each declaration runs from `.target(` (or `.executableTarget(`, `.systemLibrary(`) to the next.
    let starts = manifest.ranges(of: #/\.(target|executableTarget|systemLibrary|testTarget)\(/#)
    for (k, start) in starts.enumerated() {
      let end = k + 1 < starts.count ? starts[k + 1].lowerBound : manifest.endIndex
      let declaration = manifest[start.lowerBound..<end]
      guard !declaration.hasPrefix(".testTarget"),
        let name = declaration.firstMatch(of: #/name: "([^"]+)"/#)?.output.1, name != "TestSupport"
      else { continue }
      var dependencies = Set<String>()
      if let list = declaration.firstMatch(of: #/dependencies: \[([^\]]*)\]/#)?.output.1 {
        let packages = list.matches(of: #/package: "([^"]+)"/#).map { String($0.output.1) }
        let withoutProducts = list.replacing(#/\.product\([^)]*\)/#, with: "")
        dependencies = Set(withoutProducts.matches(of: #/"([^"]+)"/#).map { String($0.output.1) } + packages)
      }
      targets[String(name)] = dependencies
    }
    return targets
  }

  /// The table's rows: each module named in the first column, with the targets and packages
  /// its last column names.
  static func documentedTargets(knowing names: Set<String>) throws -> [String: Set<String>] {
    let text = try String(
      contentsOf: repositoryRoot.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
    var documented = [String: Set<String>]()
    for line in text.split(separator: "\n") where line.hasPrefix("| `") {
      let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard cells.count >= 4 else { continue }
      let modules = cells[1].matches(of: #/`([A-Za-z0-9]+)`/#).map { String($0.output.1) }
      let imports = cells[cells.count - 2]
      let named = Set(imports.matches(of: #/`([A-Za-z0-9]+)`/#).map { String($0.output.1) }).intersection(
        names)
      let packages = Set(packages.filter { imports.contains($0) })
      for module in modules where names.contains(module) { documented[module] = named.union(packages) }
    }
    return documented
  }

  @Test func theModuleTableMatchesPackageSwift() throws {
    let manifest = try Self.manifestTargets()
    #expect(manifest.count >= 20, "read \(manifest.count) targets from Package.swift")
    let documented = try Self.documentedTargets(knowing: Set(manifest.keys))
    for (target, dependencies) in manifest.sorted(by: { $0.key < $1.key }) {
      guard let listed = documented[target] else {
        Issue.record("\(target) is in Package.swift but not in docs/architecture.md's module table")
        continue
      }
      #expect(
        listed == dependencies,
        "\(target): Package.swift has \(dependencies.sorted()), docs/architecture.md \(listed.sorted())")
    }
    for target in documented.keys where manifest[target] == nil {
      Issue.record("\(target) is in docs/architecture.md's module table but not in Package.swift")
    }
  }

  /// The rules the document states about the edges: the conversion and simulation tools do not
  /// link Training (through any dependency), and Reports imports neither HDF5 nor ModelIO (and
  /// reaches no model file reader through its dependencies).
  @Test func theStatedRulesHold() throws {
    let manifest = try Self.manifestTargets()
    func closure(_ target: String) -> Set<String> {
      var seen = Set<String>()
      var pending = [target]
      while let next = pending.popLast() {
        for dependency in manifest[next] ?? [] where seen.insert(dependency).inserted {
          pending.append(dependency)
        }
      }
      return seen
    }
    for tool in ["snnconv", "snnsim"] {
      #expect(!closure(tool).contains("Training"), "\(tool) links Training")
    }
    #expect(closure("snntrain").contains("Training"))
    #expect(manifest["Reports"]!.isDisjoint(with: ["HDF5", "ModelIO"]))
    #expect(!closure("Reports").contains("ModelIO"))
  }

  /// Files in Spiking, Conversion and ModelIO stay under 500 lines unless docs/architecture.md's
  /// "Sizes" names them, at their size, with the reason: a file grown past it without a word, or
  /// grown since the word, fails here.
  @Test func largeFilesAreTheOnesTheDocumentExplains() throws {
    let text = try String(
      contentsOf: repositoryRoot.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
    let start = try #require(text.range(of: "\n## Sizes\n"))
    let rest = text[start.upperBound...]
    let sizes = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
    /// `1234` as the document writes it: `1,234`.
    func spelled(_ n: Int) -> String {
      n >= 1000 ? "\(n / 1000),\(String(format: "%03d", n % 1000))" : "\(n)"
    }
    var checked = 0
    for module in ["Spiking", "Conversion", "ModelIO"] {
      let folder = repositoryRoot.appendingPathComponent("Sources/\(module)")
      let files = try #require(FileManager.default.enumerator(atPath: folder.path))
      for case let file as String in files where file.hasSuffix(".swift") {
        checked += 1
        let contents = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        let lines = contents.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        let name = (file as NSString).lastPathComponent
        guard lines > 500 else { continue }
        #expect(
          sizes.contains("`\(name)` (\(spelled(lines)) lines"),
          "Sources/\(module)/\(file) has \(lines) lines, which docs/architecture.md's Sizes does not explain")
      }
    }
    #expect(checked > 40)
  }
}
