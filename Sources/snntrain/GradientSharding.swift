import Distributed
import Training

extension Communicator {
  /// Each global batch's shards dealt over the ranks, gradients summed on rank 0 and broadcast
  /// (``GradientSharding``), so that every rank applies the same update.
  var gradientSharding: GradientSharding {
    guard size > 1 else { return .alone }
    return GradientSharding(
      rank: rank, size: size, sumFloats: { [self] in sumFromRoot(&$0) },
      sumDoubles: { [self] in sumFromRoot(&$0) })
  }
}
