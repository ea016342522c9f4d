import Conversion
import Graph
import Spiking
import Tensor
import TestSupport
import Testing

/// Calibration in a job: rank r of N runs the chunks of 100 images k with k mod N = r.
@Suite struct CalibrationShardingTests {
  @Test(arguments: [Normalization.max, .percentile(99)])
  func eachRankRunsItsOwnChunks(normalization: Normalization) throws {
    let graph = try SpikeRasterTests.smallGraph()
    var random = SeededRandom(seed: 8)
    let images = Tensor<Float>(shape: [250, 3, 3, 1], scalars: random.uniform(2250, in: 0...1))
    let all = try Calibration.scales(graph, images, normalization, .channel)
    // Rank 1 of 2 alone (no merging): exactly the second chunk, images 100..<200.
    let second = try Calibration.scales(
      graph, images, normalization, .channel,
      sharding: CalibrationSharding(rank: 1, size: 2, maximum: { $0 }, concatenate: { $0 }))
    #expect(second == (try Calibration.scales(graph, images.rows(100..<200), normalization, .channel)))
    #expect(second != all)
    // Rank 0's chunks (0 and 2) merged with rank 1's maxima give the whole.
    let secondValues = try Calibration.scales(graph, images.rows(100..<200), normalization, .channel)
    if normalization == .max {
      let merged = try Calibration.scales(
        graph, images, normalization, .channel,
        sharding: CalibrationSharding(
          rank: 0, size: 2, maximum: { mine in zip(mine, secondValues["relu"]!).map { max($0, $1) } },
          concatenate: { $0 }))
      #expect(merged == all)
    }
  }
}
