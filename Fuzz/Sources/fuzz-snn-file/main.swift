import Foundation
import FuzzSupport
import HDF5
import ModelIO

// Fuzzes the .snn.h5 reader above the HDF5 format: each input describes a file's groups,
// attributes and datasets as JSON (tools/fuzz_seeds.py makes the seeds from real networks); the
// harness writes it with libhdf5 and reads it back with SNNFile.read. Every input must end in a
// network or a thrown error. The bytes of HDF5 itself are not fuzzed here: libhdf5 crashes on
// some damaged files, which the tools survive by reading each file first in a child process
// (docs/limits.md), and the bit-flip tests cover.

/// One attribute: `{"s": "text"}`, `{"ss": ["a", "b"]}`, `{"i": [1, 2]}` or `{"f": [0.5]}`.
enum Attribute: Decodable {
  case string(String)
  case strings([String])
  case integers([Int64])
  case reals([Double])

  init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: Key.self)
    if let value = try container.decodeIfPresent(String.self, forKey: .s) {
      self = .string(value)
    } else if let value = try container.decodeIfPresent([String].self, forKey: .ss) {
      self = .strings(value)
    } else if let value = try container.decodeIfPresent([Int64].self, forKey: .i) {
      self = .integers(value)
    } else {
      self = .reals(try container.decode([Double].self, forKey: .f))
    }
  }
  enum Key: String, CodingKey { case s, ss, i, f }
}

/// A dataset: its shape and its values as float32 (`f`) or float64 (`d`), or one value filling
/// it (`fill`, float32 unless `double` is true).
struct Dataset: Decodable {
  var shape: [Int]
  var f: [Float]?
  var d: [Double]?
  var fill: Double?
  var double: Bool?
}

/// A group: attributes, datasets and subgroups by name.
struct Group: Decodable {
  var attributes: [String: Attribute]?
  var datasets: [String: Dataset]?
  var groups: [String: Group]?
}

/// The most elements the harness writes into one dataset: beyond it the harness, not the
/// reader, would be what is slow.
let maximumElements = 1 << 16

func write(_ description: Group, into group: HDF5Group) throws {
  for (name, attribute) in description.attributes ?? [:] {
    switch attribute {
    case .string(let value): try group.writeAttribute(name, string: value)
    case .strings(let values): try group.writeAttribute(name, strings: values)
    case .integers(let values): try group.writeAttribute(name, values: values)
    case .reals(let values): try group.writeAttribute(name, values: values)
    }
  }
  for (name, dataset) in description.datasets ?? [:] {
    guard dataset.shape.allSatisfy({ (0...maximumElements).contains($0) }) else { continue }
    let (count, overflow) = dataset.shape.reduce((1, false)) {
      let product = $0.0.multipliedReportingOverflow(by: $1)
      return (product.partialValue, $0.1 || product.overflow)
    }
    guard !overflow, count <= maximumElements else { continue }
    if let values = dataset.d
      ?? (dataset.double == true ? dataset.fill.map { [Double](repeating: $0, count: count) } : nil)
    {
      guard values.count == count else { continue }
      try group.writeDataset(name, values: values, shape: dataset.shape)
    } else {
      let values = dataset.f ?? [Float](repeating: Float(dataset.fill ?? 0), count: count)
      guard values.count == count else { continue }
      try group.writeDataset(name, values: values, shape: dataset.shape)
    }
  }
  for (name, child) in description.groups ?? [:] {
    try write(child, into: try group.createGroup(name))
  }
}

let path = scratchPath("network.snn.h5")
runFuzzer { input in
  guard let description = try? JSONDecoder().decode(Group.self, from: input) else { return }
  do {
    let file = try HDF5File.create(path)
    try write(description, into: file.root)
    try file.flush()
  } catch {
    return  // Names HDF5 cannot hold (empty, with '/' or '.'): not the reader's input.
  }
  _ = try? SNNFile.read(path)
}
