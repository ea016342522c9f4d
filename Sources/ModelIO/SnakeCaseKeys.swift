import Foundation

/// The snake_case JSON keys of `.snn.h5` files, spelled from and back to the toolkit's
/// camelCase field and case names one-to-one: `zeroPad2d` ↔ `zero_pad2d`,
/// `globalAveragePool2d` ↔ `global_average_pool2d`. Foundation's own
/// `convertFromSnakeCase` capitalizes after digits (`zero_pad2d` → `zeroPad2D`), which no case
/// is named, so these strategies are spelled out. Leading underscores (`_0`, an unlabelled
/// associated value) are kept as they are.
enum SnakeCaseKeys {
  /// `camelCase` → `camel_case`: an underscore before each uppercase letter, which is lowered.
  static func snake(_ key: String) -> String {
    var out = ""
    for character in key {
      if character.isUppercase, !out.isEmpty, out.last != "_" { out.append("_") }
      out += character.lowercased()
    }
    return out
  }

  /// `camel_case` → `camelCase`: each underscore between characters dropped and the letter
  /// after it raised; leading and trailing underscores kept.
  static func camel(_ key: String) -> String {
    let leading = key.prefix { $0 == "_" }
    let rest = key.dropFirst(leading.count)
    let trailing = rest.reversed().prefix { $0 == "_" }
    let body = rest.dropLast(trailing.count)
    var out = String(leading)
    var raise = false
    for character in body {
      if character == "_" {
        raise = true
      } else {
        out += raise ? character.uppercased() : String(character)
        raise = false
      }
    }
    return out + String(trailing)
  }

  struct Key: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) {
      self.stringValue = stringValue
      intValue = nil
    }
    init(intValue: Int) {
      stringValue = String(intValue)
      self.intValue = intValue
    }
  }

  /// An encoder that writes snake_case keys, sorted.
  static var encoder: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.keyEncodingStrategy = .custom { path in
      let last = path.last!
      return last.intValue != nil ? last : Key(stringValue: snake(last.stringValue))
    }
    return encoder
  }

  /// A decoder that reads snake_case keys — and camelCase ones, which have no underscore to
  /// convert, as files before version 5 hold.
  static var decoder: JSONDecoder {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .custom { path in
      let last = path.last!
      return last.intValue != nil ? last : Key(stringValue: camel(last.stringValue))
    }
    return decoder
  }
}
