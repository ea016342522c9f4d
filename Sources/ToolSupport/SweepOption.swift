import ArgumentParser
import Conversion
import Pipeline
import Spiking

/// `snnsim compare --sweep OPTION=V1,V2`: one more conversion or simulation option to compare
/// the values of, named as on the command line of `snnconv convert` and `snnsim run`, with the
/// ranges those commands check (``ToolLimits``). A neuron model's own settings
/// (``NeuronParameter``: reset, leak, bits …) are swept by their names too.
public enum SweepOption: String, CaseIterable, Sendable {
  case fuse, granularity, schedule, eta0, gamma, calibration
  case initialMembrane = "initial-membrane"
  case input, engine

  /// What the option's values may be, as help and errors say.
  public var expected: String {
    switch self {
    case .fuse: "true, false"
    case .granularity: Granularity.allCases.map(\.rawValue).joined(separator: ", ")
    case .schedule: ConversionOptions.ScheduleName.allCases.map(\.rawValue).joined(separator: ", ")
    case .eta0, .gamma: "numbers in (0, 1]"
    case .calibration: "image counts"
    case .initialMembrane: "fractions in [0, 1]"
    case .input: InputEncoding.allCases.map(\.rawValue).joined(separator: ", ")
    case .engine: AffineUpdate.allCases.map(\.rawValue).joined(separator: ", ")
    }
  }

  /// Which neurons read the option: every kind, only those with a membrane (reset, leak, start),
  /// or only those with a step schedule (and a fused form, which membrane networks lack).
  enum Readers { case all, membrane, stepped }

  var readers: Readers {
    switch self {
    case .initialMembrane: .membrane
    case .schedule, .eta0, .gamma, .fuse: .stepped
    case .granularity, .calibration, .input, .engine: .all
    }
  }

  /// Whether a conversion with `dynamics` reads the option.
  func applies(to dynamics: Dynamics) -> Bool {
    switch readers {
    case .all: true
    case .membrane: dynamics.model.hasMembrane
    case .stepped: dynamics.model.defaultSchedule != nil
    }
  }

  typealias Apply = @Sendable (inout ConversionSettings, inout SimulationSettings) -> Void

  /// Each value of the comma list `text`, named and with how it changes the settings.
  /// - Throws: `ValidationError` naming the value that is not one of ``expected``.
  func values(_ text: String) throws -> [(String, Apply)] {
    func list<T>(_ element: @escaping (String) -> T?) throws -> [T] {
      try parseList(text, option: "--sweep \(rawValue)", expected: expected, element)
    }
    func number(_ part: String, _ range: ClosedRange<Double>, openBelow: Bool = false) -> Double? {
      Double(part).flatMap { ToolLimits.accepts($0, in: range, openBelow: openBelow) ? $0 : nil }
    }
    switch self {
    case .fuse:
      return try list { Bool($0) }.map { fuse in ("\(fuse)", { settings, _ in settings.fuse = fuse }) }
    case .granularity:
      return try list { Granularity(rawValue: $0) }.map { granularity in
        (granularity.rawValue, { settings, _ in settings.granularity = granularity })
      }
    case .schedule:
      return try list { ConversionOptions.ScheduleName(rawValue: $0) }.map { name in
        (name.rawValue, { settings, _ in settings.schedule = name.schedule() })
      }
    case .eta0:
      return try list { number($0, ToolLimits.stepSize, openBelow: true) }.map { eta0 in
        (
          "\(eta0)",
          { settings, _ in
            switch settings.schedule {
            case .constant: settings.schedule = .constant(eta: eta0)
            case .geometric(_, let gamma): settings.schedule = .geometric(eta0: eta0, gamma: gamma)
            case .adaptive(_, let gamma): settings.schedule = .adaptive(eta0: eta0, gamma: gamma)
            case .inverse, nil: settings.schedule = .geometric(eta0: eta0, gamma: StepSchedule.defaultGamma)
            }
          }
        )
      }
    case .gamma:
      return try list { number($0, ToolLimits.stepSize, openBelow: true) }.map { gamma in
        (
          "\(gamma)",
          { settings, _ in
            switch settings.schedule {
            case .geometric(let eta0, _): settings.schedule = .geometric(eta0: eta0, gamma: gamma)
            case .adaptive(let eta0, _): settings.schedule = .adaptive(eta0: eta0, gamma: gamma)
            case .inverse, .constant, nil:
              settings.schedule = .geometric(eta0: StepSchedule.defaultEta0, gamma: gamma)
            }
          }
        )
      }
    case .calibration:
      return try list { Int($0).flatMap { (1...ToolLimits.images).contains($0) ? $0 : nil } }.map { count in
        ("\(count)", { settings, _ in settings.calibrationImages = count })
      }
    case .initialMembrane:
      return try list { number($0, ToolLimits.initialMembrane) }.map { start in
        ("\(start)", { settings, _ in settings.initialMembrane = start })
      }
    case .input:
      return try list { InputEncoding(rawValue: $0) }.map { input in
        (input.rawValue, { _, simulation in simulation.input = input })
      }
    case .engine:
      return try list { AffineUpdate(rawValue: $0) }.map { engine in
        (engine.rawValue, { _, simulation in simulation.update = engine })
      }
    }
  }

  /// Parses `OPTION=V1,V2,…`.
  /// - Throws: `ValidationError` naming an unknown option, a value out of range, or a list of
  ///   fewer than two values.
  public static func parse(_ text: String) throws -> Ablation.Sweep {
    let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
    let names = allCases.map(\.rawValue) + NeuronParameters.all.map(\.name)
    guard parts.count == 2, names.contains(parts[0]) else {
      throw ValidationError(
        "--sweep takes OPTION=V1,V2 with OPTION one of \(names.joined(separator: ", ")); got '\(text)'")
    }
    let values: [(String, Apply)]
    let applies: @Sendable (ConversionSettings) -> Bool
    if let option = SweepOption(rawValue: parts[0]) {
      values = try option.values(parts[1])
      applies = { settings in option.applies(to: settings.dynamics) }
    } else {
      let parameter = NeuronParameters.all.first { $0.name == parts[0] }!
      values = try neuronValues(parameter, parts[1])
      let readers = NeuronParameters.readers(of: parameter.name)
      applies = { settings in readers.contains(settings.dynamics) }
    }
    guard values.count >= 2, Set(values.map(\.0)).count == values.count else {
      throw ValidationError(
        "--sweep \(parts[0]) needs two or more different values, got '\(parts[1])'")
    }
    return Ablation.Sweep(
      option: parts[0], values: values.map { (name: $0.0, apply: $0.1) }, applies: applies)
  }

  /// Each value of a neuron model's setting in the comma list `text`.
  static func neuronValues(_ parameter: NeuronParameter, _ text: String) throws -> [(String, Apply)] {
    try parseList(text, option: "--sweep \(parameter.name)", expected: parameter.expected) {
      parameter.parse($0)
    }
    .map { value in
      (value.map { "\($0)" } ?? "none", { settings, _ in settings.neuron[parameter.name] = value })
    }
  }

  /// Throws when a swept option is one that none of `dynamics` reads.
  public static func check(_ sweeps: [Ablation.Sweep], dynamics: [Dynamics]) throws {
    for sweep in sweeps {
      let readers = NeuronParameters.readers(of: sweep.option)
      if !readers.isEmpty, !dynamics.contains(where: readers.contains) {
        throw ValidationError(
          "--sweep \(sweep.option) applies only to --dynamics \(readers.map(\.rawValue).joined(separator: ", "))"
        )
      }
      guard let option = SweepOption(rawValue: sweep.option), !dynamics.contains(where: option.applies) else {
        continue
      }
      let membranes = Dynamics.allCases.filter { $0.model.hasMembrane }.map(\.rawValue).joined(
        separator: ", ")
      switch option.readers {
      case .membrane:
        throw ValidationError(
          "--sweep \(sweep.option) applies only to --dynamics \(membranes) (membrane neurons)")
      case .stepped:
        throw ValidationError(
          "--sweep \(sweep.option) does not apply to --dynamics \(membranes): membrane neurons have no step schedule and no fused form"
        )
      case .all:
        continue
      }
    }
    let options = sweeps.map(\.option)
    if let repeated = options.first(where: { option in options.filter { $0 == option }.count > 1 }) {
      throw ValidationError("--sweep \(repeated) is given twice; list its values once")
    }
  }
}
