import Foundation

/// What a simulated step cost next to one forward pass of the network's ANN, both timed by the
/// simulator on the same images and threads: the ANN pass is the reference every batch is
/// measured against (computed once per batch when it is loaded), the steps are the network's
/// updates alone (the measurements at the requested T are not counted).
///
/// The ratio is the price of a time step in forward passes: T steps cost about `ratio · T`
/// forward passes of the ANN.
public struct StepCost: Sendable, Codable, Equatable {
  /// Seconds spent in the ANN's forward passes, one per simulated batch, summed over the
  /// batches (and the threads that simulated them).
  public var annForwardSeconds: Double
  /// Seconds spent stepping the spiking network, summed the same way.
  public var stepSeconds: Double
  /// Steps simulated per batch (the largest T).
  public var steps: Int
  /// Images whose batches were timed (this process's).
  public var images: Int

  public init(annForwardSeconds: Double = 0, stepSeconds: Double = 0, steps: Int = 0, images: Int = 0) {
    self.annForwardSeconds = annForwardSeconds
    self.stepSeconds = stepSeconds
    self.steps = steps
    self.images = images
  }

  /// One step's cost in forward passes of the ANN over the same images; nil before anything was
  /// timed.
  public var ratio: Double? {
    guard annForwardSeconds > 0, steps > 0 else { return nil }
    return stepSeconds / Double(steps) / annForwardSeconds
  }

  /// Adds another worker's or batch's times (over the same number of steps).
  public mutating func add(_ other: StepCost) {
    annForwardSeconds += other.annForwardSeconds
    stepSeconds += other.stepSeconds
    steps = max(steps, other.steps)
    images += other.images
  }

  /// "one step costs 1.42× the ANN's forward pass (ANN 1.2 ms, step 1.7 ms per image)".
  public var summary: String? {
    guard let ratio, images > 0 else { return nil }
    let ann = annForwardSeconds / Double(images) * 1000
    let step = stepSeconds / Double(steps) / Double(images) * 1000
    return String(
      format: "one step costs %.2f× the ANN's forward pass (ANN %.3g ms, step %.3g ms per image)", ratio, ann,
      step)
  }
}

/// Seconds since some fixed moment, from the monotonic clock.
func monotonicSeconds() -> Double {
  Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
