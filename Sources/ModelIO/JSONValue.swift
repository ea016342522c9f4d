import Foundation

/// A parsed JSON document, for walking Keras's loosely typed `model_config`.
enum JSONValue: Sendable, Equatable, Decodable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  /// Parses JSON text; nil if it is not valid JSON.
  init?(parsing text: String) {
    guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return nil }
    self = value
  }

  subscript(key: String) -> JSONValue? {
    if case .object(let object) = self { return object[key] }
    return nil
  }

  var string: String? { if case .string(let value) = self { value } else { nil } }
  var double: Double? { if case .number(let value) = self { value } else { nil } }
  var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
  var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
  var isNull: Bool { self == .null }

  /// An integer, if the value is a whole number.
  var int: Int? {
    guard let value = double, value == value.rounded(), abs(value) < 1e15 else { return nil }
    return Int(value)
  }

  /// A list of integers, also accepting a single integer (Keras writes `3` or `[3, 3]`).
  var ints: [Int]? {
    if let single = int { return [single] }
    guard let array else { return nil }
    let values = array.compactMap(\.int)
    return values.count == array.count ? values : nil
  }

  /// Serialized as compact JSON with sorted keys.
  var text: String {
    switch self {
    case .null: return "null"
    case .bool(let value): return value ? "true" : "false"
    case .number(let value):
      if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
      return "\(value)"
    case .string(let value):
      let data = try! JSONSerialization.data(withJSONObject: [value], options: [])
      let wrapped = String(decoding: data, as: UTF8.self)
      return String(wrapped.dropFirst().dropLast())
    case .array(let values): return "[" + values.map(\.text).joined(separator: ", ") + "]"
    case .object(let object):
      return "{"
        + object.keys.sorted().map { JSONValue.string($0).text + ": " + object[$0]!.text }.joined(
          separator: ", ") + "}"
    }
  }
}

extension JSONValue {
  init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
  ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
  ExpressibleByNilLiteral
{
  init(stringLiteral value: String) { self = .string(value) }
  init(integerLiteral value: Int) { self = .number(Double(value)) }
  init(floatLiteral value: Double) { self = .number(value) }
  init(booleanLiteral value: Bool) { self = .bool(value) }
  init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
  }
  init(nilLiteral: ()) { self = .null }
}
