import Foundation

/// One setting a neuron model has beyond what every population has (target, schedule, λ, v₀): a
/// membrane's reset and leak, a burst neuron's bits. A model declares its settings
/// (``NeuronModel/parameters``); populations, files, flags, sweeps and run records hold them by
/// name in ``NeuronParameters`` and never need to know which model reads which.
public struct NeuronParameter: Sendable {
  /// What values the setting takes.
  public enum Domain: Sendable {
    /// One of these words.
    case word([String])
    /// A number in the range (an integer if `integer`); with `noneAllowed`, also `none`, the
    /// setting left out.
    case number(ClosedRange<Double>, integer: Bool, noneAllowed: Bool)
  }

  /// Its name in files, flags (`--neuron NAME=VALUE`, `--sweep NAME=…`) and run records.
  public let name: String
  /// One line for help texts.
  public let summary: String
  public let domain: Domain
  /// The value when none is given; nil: the setting is left out (`none`).
  public let defaultValue: NeuronParameters.Value?

  public init(name: String, summary: String, domain: Domain, defaultValue: NeuronParameters.Value?) {
    self.name = name
    self.summary = summary
    self.domain = domain
    self.defaultValue = defaultValue
  }

  /// The values it accepts, as help texts and errors say them: `subtract, zero`, `1…3`,
  /// `1…1e+09 or none`.
  public var expected: String {
    switch domain {
    case .word(let words): return words.joined(separator: ", ")
    case .number(let range, let integer, let noneAllowed):
      let bounds =
        integer
        ? "\(Int(range.lowerBound))…\(Int(range.upperBound))"
        : "\(String(format: "%g", range.lowerBound))…\(String(format: "%g", range.upperBound))"
      return noneAllowed ? "\(bounds) or none" : bounds
    }
  }

  /// The value `text` spells, `.some(nil)` for `none` where that is allowed, nil if `text` is
  /// not one of ``expected``.
  public func parse(_ text: String) -> NeuronParameters.Value?? {
    switch domain {
    case .word(let words): return words.contains(text) ? .some(.word(text)) : nil
    case .number(_, _, let noneAllowed):
      if text == "none" { return noneAllowed ? .some(nil) : nil }
      guard let number = Double(text), accepts(.number(number)) else { return nil }
      return .some(.number(number))
    }
  }

  /// Whether `value` is one of ``expected``.
  public func accepts(_ value: NeuronParameters.Value) -> Bool {
    switch (domain, value) {
    case (.word(let words), .word(let word)): return words.contains(word)
    case (.number(let range, let integer, _), .number(let number)):
      return number.isFinite && range.contains(number) && (!integer || number.rounded() == number)
    default: return false
    }
  }
}

/// A population's neuron settings by name (``NeuronParameter``), e.g. `reset=subtract leak=20`.
///
/// Encoded (JSON, run records) as an object of numbers and words: `{"bits":2,"reset":"subtract"}`;
/// in `.snn.h5` files as one attribute of the population per setting.
public struct NeuronParameters: Sendable, Hashable, Codable, CustomStringConvertible {
  /// A setting's value: a number or a word.
  public enum Value: Sendable, Hashable, Codable, CustomStringConvertible {
    case number(Double)
    case word(String)

    public var description: String {
      switch self {
      case .number(let number): String(format: "%g", number)
      case .word(let word): word
      }
    }

    public init(from decoder: Decoder) throws {
      let container = try decoder.singleValueContainer()
      if let number = try? container.decode(Double.self) {
        self = .number(number)
      } else {
        self = .word(try container.decode(String.self))
      }
    }

    public func encode(to encoder: Encoder) throws {
      var container = encoder.singleValueContainer()
      switch self {
      case .number(let number): try container.encode(number)
      case .word(let word): try container.encode(word)
      }
    }
  }

  /// The settings given, by name; a setting left out has no entry.
  public private(set) var values: [String: Value]

  public init(_ values: [String: Value] = [:]) { self.values = values }

  public init(from decoder: Decoder) throws {
    values = try decoder.singleValueContainer().decode([String: Value].self)
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(values)
  }

  public subscript(name: String) -> Value? {
    get { values[name] }
    set { values[name] = newValue }
  }

  /// The number named `name`, nil if it is left out or a word.
  public func number(_ name: String) -> Double? {
    if case .number(let number) = values[name] { number } else { nil }
  }

  /// The word named `name`, nil if it is left out or a number.
  public func word(_ name: String) -> String? {
    if case .word(let word) = values[name] { word } else { nil }
  }

  public var isEmpty: Bool { values.isEmpty }

  /// `name value` pairs in the order of the names, for people: `leak 20, reset subtract`.
  public var spelled: String {
    values.keys.sorted().map { "\($0) \(values[$0]!)" }.joined(separator: ", ")
  }

  /// `name=value` pairs in the order of the names, e.g. `leak=20 reset=subtract`.
  public var description: String {
    values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: " ")
  }

  /// Why these settings do not fit `dynamics`'s model, or nil: a name it does not declare, or a
  /// value outside what it accepts.
  public func problem(for dynamics: Dynamics) -> String? {
    let declared = dynamics.model.parameters
    for name in values.keys.sorted() {
      guard let parameter = declared.first(where: { $0.name == name }) else {
        let names = declared.map(\.name)
        return
          "\(dynamics.rawValue) neurons have no setting '\(name)' (\(names.isEmpty ? "they have none" : "they have \(names.joined(separator: ", "))"))"
      }
      if let value = values[name], !parameter.accepts(value) {
        return "\(name) = \(value) is not one of \(parameter.expected)"
      }
    }
    return nil
  }

  /// The settings of `dynamics`'s model: those given that it declares, and its defaults for the
  /// rest; the others are dropped (a conversion's settings apply to whichever model reads them).
  public func resolved(for dynamics: Dynamics) -> NeuronParameters {
    var resolved = NeuronParameters()
    for parameter in dynamics.model.parameters {
      resolved[parameter.name] =
        values.keys.contains(parameter.name) ? values[parameter.name] : parameter.defaultValue
    }
    return resolved
  }

  /// These settings with `dynamics`'s defaults added for those left out; nothing is dropped
  /// (``problem(for:)`` says what does not fit).
  public func completed(for dynamics: Dynamics) -> NeuronParameters {
    var completed = resolved(for: dynamics)
    for (name, value) in values { completed[name] = value }
    return completed
  }

  /// Every setting any model declares, each once, in the order of ``Dynamics/allCases``.
  public static var all: [NeuronParameter] {
    var seen = Set<String>()
    return Dynamics.allCases.flatMap { $0.model.parameters }.filter { seen.insert($0.name).inserted }
  }

  /// The models that declare the setting named `name`.
  public static func readers(of name: String) -> [Dynamics] {
    Dynamics.allCases.filter { $0.model.parameters.contains { $0.name == name } }
  }
}
