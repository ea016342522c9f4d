import ArgumentParser
import Conversion
import Pipeline
import Spiking

/// `snnsim compare --sweep OPTION=V1,V2`: one more conversion or simulation option to compare
/// the values of, named as on the command line of `snnconv convert` and `snnsim run`.
public enum SweepOption {
  /// The options that can be swept, with what their values may be.
  public static let options: [(name: String, values: String)] = [
    ("fuse", "true, false"), ("granularity", "layer, channel, neuron"),
    ("schedule", "inverse, geometric, constant, adaptive"), ("eta0", "numbers in (0, 1]"),
    ("gamma", "numbers in (0, 1]"),
    ("calibration", "image counts"), ("reset", "subtract, zero"), ("leak", "τ ≥ 1 or none"),
    ("initial-membrane", "fractions in [0, 1]"), ("input", "analog, rate, signgd"),
    ("engine", "dense, event"),
  ]

  /// Membrane options, which only `--dynamics if` reads, and schedule options, which it does not
  /// (nor `fuse`: membrane networks have no fused form).
  static let membraneOnly: Set<String> = ["reset", "leak", "initial-membrane"]
  static let scheduleOnly: Set<String> = ["schedule", "eta0", "gamma"]

  typealias Apply = @Sendable (inout ConversionSettings, inout SimulationSettings) -> Void

  /// Parses `OPTION=V1,V2,…`.
  /// - Throws: `ValidationError` naming an unknown option, a value out of range, or a list of
  ///   fewer than two values.
  public static func parse(_ text: String) throws -> Ablation.Sweep {
    let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
    let known = options.map(\.name)
    guard parts.count == 2, known.contains(parts[0]) else {
      throw ValidationError(
        "--sweep takes OPTION=V1,V2 with OPTION one of \(known.joined(separator: ", ")); got '\(text)'")
    }
    let option = parts[0]
    let expected = options.first { $0.name == option }!.values
    func list<T>(_ element: @escaping (String) -> T?) throws -> [T] {
      try parseList(parts[1], option: "--sweep \(option)", expected: expected, element)
    }
    func fraction(_ part: String, _ range: ClosedRange<Double>, openBelow: Bool = false) -> Double? {
      guard let value = Double(part), range.contains(value), !(openBelow && value == range.lowerBound) else {
        return nil
      }
      return value
    }
    let values: [(String, Apply)]
    switch option {
    case "fuse":
      values = try list { Bool($0) }.map { fuse in ("\(fuse)", { settings, _ in settings.fuse = fuse }) }
    case "granularity":
      values = try list { Granularity(rawValue: $0) }.map { granularity in
        (granularity.rawValue, { settings, _ in settings.granularity = granularity })
      }
    case "schedule":
      values = try list { ["inverse", "geometric", "constant", "adaptive"].contains($0) ? $0 : nil }.map {
        name in
        (
          name,
          { settings, _ in
            guard settings.dynamics.model.defaultSchedule != nil else { return }
            switch name {
            case "inverse": settings.schedule = .inverse
            case "constant": settings.schedule = .constant(eta: StepSchedule.defaultEta0)
            case "adaptive":
              settings.schedule = .adaptive(eta0: StepSchedule.defaultEta0, gamma: StepSchedule.defaultGamma)
            default:
              settings.schedule = .geometric(eta0: StepSchedule.defaultEta0, gamma: StepSchedule.defaultGamma)
            }
          }
        )
      }
    case "eta0":
      values = try list { fraction($0, 0...1, openBelow: true) }.map { eta0 in
        (
          "\(eta0)",
          { settings, _ in
            guard settings.dynamics.model.defaultSchedule != nil else { return }
            if case .constant = settings.schedule {
              settings.schedule = .constant(eta: eta0)
            } else if case .geometric(_, let gamma) = settings.schedule {
              settings.schedule = .geometric(eta0: eta0, gamma: gamma)
            } else {
              settings.schedule = .geometric(eta0: eta0, gamma: StepSchedule.defaultGamma)
            }
          }
        )
      }
    case "gamma":
      values = try list { fraction($0, 0...1, openBelow: true) }.map { gamma in
        (
          "\(gamma)",
          { settings, _ in
            guard settings.dynamics.model.defaultSchedule != nil else { return }
            if case .geometric(let eta0, _) = settings.schedule {
              settings.schedule = .geometric(eta0: eta0, gamma: gamma)
            } else {
              settings.schedule = .geometric(eta0: StepSchedule.defaultEta0, gamma: gamma)
            }
          }
        )
      }
    case "calibration":
      values = try list { Int($0).flatMap { (1...ToolLimits.images).contains($0) ? $0 : nil } }.map { count in
        ("\(count)", { settings, _ in settings.calibrationImages = count })
      }
    case "reset":
      values = try list { ResetMode(rawValue: $0) }.map { reset in
        (reset.rawValue, { settings, _ in settings.reset = reset })
      }
    case "leak":
      values = try list { $0 == "none" ? .some(nil) : fraction($0, 1...1e9).map(Optional.some) }.map { leak in
        (leak.map { "\($0)" } ?? "none", { settings, _ in settings.leak = leak })
      }
    case "initial-membrane":
      values = try list { fraction($0, 0...1) }.map { start in
        ("\(start)", { settings, _ in settings.initialMembrane = start })
      }
    case "input":
      values = try list { InputEncoding(rawValue: $0) }.map { input in
        (input.rawValue, { _, simulation in simulation.input = input })
      }
    default:  // engine
      values = try list { AffineUpdate(rawValue: $0) }.map { engine in
        (engine.rawValue, { _, simulation in simulation.update = engine })
      }
    }
    guard values.count >= 2, Set(values.map(\.0)).count == values.count else {
      throw ValidationError("--sweep \(option) needs two or more different values, got '\(parts[1])'")
    }
    // Membrane neurons read the membrane options and have neither a step schedule nor a fused form.
    let membrane = membraneOnly.contains(option)
    let stepped = scheduleOnly.contains(option) || option == "fuse"
    return Ablation.Sweep(
      option: option, values: values.map { (name: $0.0, apply: $0.1) },
      applies: { settings in
        let isMembrane = settings.dynamics.model.hasMembrane
        return membrane ? isMembrane : stepped ? !isMembrane : true
      })
  }

  /// Throws when a swept option is one that none of `dynamics` reads.
  public static func check(_ sweeps: [Ablation.Sweep], dynamics: [Dynamics]) throws {
    for sweep in sweeps {
      if membraneOnly.contains(sweep.option) && !dynamics.contains(where: { $0.model.hasMembrane }) {
        throw ValidationError("--sweep \(sweep.option) applies only to --dynamics if (membrane neurons)")
      }
      if (scheduleOnly.contains(sweep.option) || sweep.option == "fuse")
        && dynamics.allSatisfy({ $0.model.hasMembrane })
      {
        throw ValidationError(
          "--sweep \(sweep.option) does not apply to --dynamics if: membrane neurons have no step schedule and no fused form"
        )
      }
    }
    let options = sweeps.map(\.option)
    if let repeated = options.first(where: { option in options.filter { $0 == option }.count > 1 }) {
      throw ValidationError("--sweep \(repeated) is given twice; list its values once")
    }
  }
}
