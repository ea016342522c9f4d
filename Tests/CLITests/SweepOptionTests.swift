import ArgumentParser
import Conversion
import Spiking
import Testing
import ToolSupport

/// Every sweep option parses values in the ranges `snnconv convert` and `snnsim run` accept and
/// refuses the others, and changes only what it names.
struct SweepOptionTests {
  @Test(arguments: [
    ("fuse=true,false", true), ("granularity=layer,neuron", true), ("schedule=inverse,adaptive", true),
    ("eta0=0.1,1", true), ("eta0=0,0.5", false), ("gamma=0.5,1.5", false), ("calibration=10,20", true),
    ("calibration=0,20", false), ("reset=subtract,zero", true), ("leak=none,2", true), ("leak=0.5,2", false),
    ("initial-membrane=0,0.5", true), ("initial-membrane=0.5,1.5", false), ("input=analog,rate", true),
    ("engine=dense,event", true), ("engine=dense,dense", false), ("eta0=0.1", false), ("colour=a,b", false),
  ])
  func valuesAreCheckedAsTheToolsCheckThem(text: String, accepted: Bool) {
    let parsed = (try? SweepOption.parse(text)) != nil
    #expect(parsed == accepted, "\(text)")
  }

  /// A step size swept over an adaptive schedule keeps it adaptive; over the inverse one it
  /// chooses the geometric schedule, as `--eta0` alone does.
  @Test func aStepSizeKeepsTheScheduleFamily() throws {
    let sweep = try SweepOption.parse("eta0=0.2,0.4")
    var settings = ConversionSettings(schedule: .adaptive(eta0: 0.15, gamma: 0.9))
    var simulation = SimulationSettings(timesteps: [4], batchSize: 1)
    sweep.values[0].apply(&settings, &simulation)
    #expect(settings.schedule == .adaptive(eta0: 0.2, gamma: 0.9))
    settings.schedule = .inverse
    sweep.values[1].apply(&settings, &simulation)
    #expect(settings.schedule == .geometric(eta0: 0.4, gamma: StepSchedule.defaultGamma))
    // Membrane options apply to membrane neurons only, schedule options to the others.
    #expect(try SweepOption.parse("leak=2,4").applies(ConversionSettings(dynamics: .integrateAndFire)))
    #expect(!(try SweepOption.parse("leak=2,4").applies(ConversionSettings(dynamics: .signGD))))
    #expect(!sweep.applies(ConversionSettings(dynamics: .integrateAndFire)))
  }
}
