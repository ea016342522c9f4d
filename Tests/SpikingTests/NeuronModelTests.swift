import Spiking
import Testing

/// Every name has its model and each model answers to its name; the capabilities the rest of
/// the toolkit reads hold what docs/dynamics.md says of each model.
struct NeuronModelTests {
  @Test(arguments: Dynamics.allCases) func everyNameHasItsModel(dynamics: Dynamics) {
    #expect(dynamics.model.dynamics == dynamics)
    // Only a model without a schedule of its own gets η_t = 1, and only a model with a
    // membrane is without one.
    #expect((dynamics.model.defaultSchedule == nil) == dynamics.model.hasMembrane)
    #expect(dynamics.defaultSchedule == (dynamics.model.defaultSchedule ?? .constant(eta: 1)))
    // A neuron that sends spikes is followed through them.
    #expect(!dynamics.model.sendsSpikes || dynamics.model.estimateFollowsSpikes)
    // Every model approximates ReLU, the op every converted ReLU network needs.
    let approximatesReLU = dynamics.model.approximates(.unary(.relu))
    #expect(approximatesReLU)
  }

  @Test func theCapabilitiesAreTheModels() {
    #expect(
      MembraneIntegrateAndFire.sendsSpikes && MembraneIntegrateAndFire.hasMembrane
        && MembraneIntegrateAndFire.notExportableToNIR == nil)
    #expect(!MembraneIntegrateAndFire.approximates(.unary(.sigmoid)))
    #expect(!MembraneIntegrateAndFire.approximates(.binary(.maximum)))
    #expect(SignGradientDescent.acceptsPerNeuronSchedule && SignGradientDescent.tunesSchedule)
    #expect(SignGradientDescent.approximates(.binary(.product)) && SignGradientDescent.emitsNegativeOutputs)
    #expect(!RateIntegrateAndFire.emitsNegativeOutputs && SignedIntegrateAndFire.emitsNegativeOutputs)
    #expect(Dynamics.allCases.filter { $0.model.sendsSpikes } == [.integrateAndFire, .burst])
    #expect(Dynamics.allCases.filter { $0.model.acceptsPerNeuronSchedule } == [.signGD])
    #expect(Dynamics.allCases.filter { $0.model.notExportableToNIR == nil } == [.integrateAndFire])
  }
}
