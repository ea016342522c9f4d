/// The integrate-and-fire neuron as hardware runs it (docs/dynamics.md, "Membrane
/// integrate-and-fire"): a membrane `u`, in units of the threshold θ = λ and starting at `u_0`,
/// integrates the input current that affine layers compute from the spikes of the layer before,
///
///     u_t = κ·u_{t−1} + I_t/λ     (κ = 1, or 1 − 1/τ with a leak τ)
///     s_t = [u_t > 1],   then u_t ← u_t − 1 (subtract) or 0 (zero)
///
/// and sends `λ·s_t` on the wire, not an estimate: its value is the rate `λ·Σs/t`, and the
/// readout sums its input current over the steps. Its threshold makes its rate ReLU of its mean
/// input (clipped to [0, 1]), so it populates ReLU nodes only (max pooling becomes ReLU neurons
/// at conversion). NIR's IF and LIF nodes hold it (docs/nir.md).
public enum MembraneIntegrateAndFire: NeuronModel {
  public static let dynamics = Dynamics.integrateAndFire
  public static let sendsSpikes = true
  public static let estimateFollowsSpikes = true
  /// None: what a layer fed by membrane neurons sees each step is that step's spikes alone.
  public static let defaultSchedule: StepSchedule? = nil
  public static let acceptsPerNeuronSchedule = false
  public static let hasMembrane = true
  public static let emitsNegativeOutputs = false
  public static let tunesSchedule = false
  public static func approximates(_ target: NeuronTarget) -> Bool { target == .unary(.relu) }
  public static let notExportableToNIR: String? = nil
}
