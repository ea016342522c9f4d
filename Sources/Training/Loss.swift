import RealModule
import Tensor

/// A loss on the network's output for integer class labels, averaged over the batch.
public enum Loss: String, Sendable, Hashable, Codable, CaseIterable {
  /// Softmax cross-entropy on logits: `−log softmax(z)[label]`, computed stably
  /// (`logsumexp(z) − z[label]` with the maximum subtracted first).
  case crossEntropy = "cross-entropy"
  /// Logistic loss per output against one-hot targets (one-vs-all): `Σ_k log(1 + e^{−t_k z_k})`
  /// with `t_k = ±1`, computed as `softplus(−t_k z_k)`. With one output it is binary logistic
  /// regression on labels 0/1.
  case logistic
  /// Squared error against one-hot targets: `Σ_k (z_k − t_k)²`.
  case squaredError = "squared-error"

  /// The mean loss over the batch and its gradient with respect to `output` (`[batch, K]`).
  ///
  /// When `output` is one shard of a larger mini-batch, `divisor` is the mini-batch's size: the
  /// loss and gradient are then this shard's share of the mini-batch mean, and adding the shards'
  /// shares gives the mean.
  /// - Complexity: O(batch × K).
  func evaluate<Scalar: TensorScalar>(_ output: Tensor<Scalar>, labels: [Int], divisor: Int? = nil) -> (
    loss: Double, gradient: Tensor<Scalar>
  ) {
    let width = output.shape.last!
    let batch = output.count / width
    precondition(labels.count == batch, "loss: \(labels.count) labels for \(batch) outputs")
    let divisor = divisor ?? batch
    var gradient = Tensor<Scalar>(zeros: output.shape)
    var total = 0.0
    let scale = 1 / Scalar(divisor)
    output.scalars.withUnsafeBufferPointer { z in
      gradient.withUnsafeMutableScalars { g in
        for row in 0..<batch {
          let base = row * width
          let label = labels[row]
          switch self {
          case .crossEntropy:
            var largest = -Scalar.infinity
            for k in 0..<width { largest = Swift.max(largest, z[base + k]) }
            var sum: Scalar = 0
            for k in 0..<width { sum += Scalar.exp(z[base + k] - largest) }
            total += Double(Scalar.log(sum) + largest - z[base + label])
            for k in 0..<width {
              let p = Scalar.exp(z[base + k] - largest) / sum
              g[base + k] = (p - (k == label ? 1 : 0)) * scale
            }
          case .logistic:
            for k in 0..<width {
              let target: Scalar = width == 1 ? (label == 1 ? 1 : -1) : (k == label ? 1 : -1)
              let margin = -target * z[base + k]
              total += Double(UnaryFunction.softplus(margin))
              g[base + k] = -target * UnaryFunction.logistic(margin) * scale
            }
          case .squaredError:
            for k in 0..<width {
              let d = z[base + k] - (k == label ? 1 : 0)
              total += Double(d * d)
              g[base + k] = 2 * d * scale
            }
          }
        }
      }
    }
    return (total / Double(divisor), gradient)
  }
}
