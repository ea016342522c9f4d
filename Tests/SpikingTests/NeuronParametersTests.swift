import Foundation
import Testing

@testable import Spiking

/// A model's own settings held by name (``NeuronParameters``): declared, checked, defaulted,
/// encoded, and read from the forms written before models declared them.
@Suite struct NeuronParametersTests {
  @Test func theMembraneDeclaresItsResetAndLeak() {
    #expect(Dynamics.integrateAndFire.model.parameters.map(\.name) == ["reset", "leak"])
    #expect(Dynamics.signGD.model.parameters.isEmpty)
    // Defaults fill in; settings of other models are dropped.
    let given = NeuronParameters(["leak": .number(20), "colour": .word("red")])
    #expect(
      given.resolved(for: .integrateAndFire)
        == NeuronParameters(["reset": .word("subtract"), "leak": .number(20)]))
    #expect(given.resolved(for: .signGD).isEmpty)
  }

  @Test func aSettingOutsideWhatTheModelAcceptsIsNamed() {
    #expect(
      NeuronParameters(["leak": .number(0.5)]).problem(for: .integrateAndFire)
        == "leak = 0.5 is not one of 1…1e+09 or none")
    #expect(
      NeuronParameters(["reset": .word("halfway")]).problem(for: .integrateAndFire)?.contains(
        "subtract, zero") == true)
    #expect(NeuronParameters(["reset": .number(1)]).problem(for: .integrateAndFire) != nil)
    #expect(NeuronParameters(["leak": .number(.nan)]).problem(for: .integrateAndFire) != nil)
    #expect(
      NeuronParameters(["reset": .word("zero")]).problem(for: .signGD)?.contains(
        "signgd neurons have no setting 'reset'") == true)
    #expect(NeuronParameters(["leak": .number(8)]).problem(for: .integrateAndFire) == nil)
    let leak = MembraneIntegrateAndFire.leakParameter
    #expect(
      leak.parse("none") == .some(nil) && leak.parse("3") == .some(.number(3)) && leak.parse("0") == nil)
  }

  @Test func theyEncodeAsAnObjectOfNumbersAndWords() throws {
    let parameters = NeuronParameters(["reset": .word("zero"), "leak": .number(16)])
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    #expect(String(decoding: try encoder.encode(parameters), as: UTF8.self) == #"{"leak":16,"reset":"zero"}"#)
    #expect(
      try JSONDecoder().decode(NeuronParameters.self, from: try encoder.encode(parameters)) == parameters)
  }

  @Test func aPopulationWrittenWithItsOwnResetAndLeakReadsAlike() throws {
    let written = PopulationSpec(
      node: "r", target: .unary(.relu), dynamics: .integrateAndFire, schedule: .inverse, scales: [1])
    // The form of before: no "parameters", a "reset" and a "leak" of their own.
    var object = try #require(
      try JSONSerialization.jsonObject(with: try JSONEncoder().encode(written)) as? [String: Any])
    object["parameters"] = nil
    object["reset"] = "zero"
    object["leak"] = 4
    let spec = try JSONDecoder().decode(
      PopulationSpec.self, from: try JSONSerialization.data(withJSONObject: object))
    #expect(MembraneIntegrateAndFire.Membrane(spec.parameters) == .init(reset: .zero, leak: 4))
    let again = try JSONDecoder().decode(PopulationSpec.self, from: try JSONEncoder().encode(spec))
    #expect(again == spec)
  }
}
