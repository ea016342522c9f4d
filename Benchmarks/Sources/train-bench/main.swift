import Datasets
import Foundation
import Tensor
import Training

// Training throughput of the presets, in images per second, and the share of that time spent
// inside BLAS GEMM calls. Each case trains one epoch over the first 7,680 Fashion-MNIST training
// images (60 batches of 128, Adam) after a 10-batch warm-up, three times; the median is reported.

MemoryTuning.keepFreedMemory()  // as the command-line tools do
let train = try DataSource.fashionMNIST.load(.train, limit: 7680)

// `train-bench PRESET PRECISION`: one case, one timed epoch, as a JSON line — what tools/bench
// alternates with PyTorch. The time is the epoch's own (EpochReport.seconds), as the PyTorch
// side times only its epoch.
if CommandLine.arguments.count == 3 {
  guard let preset = ModelPreset(rawValue: CommandLine.arguments[1]),
    let precision = Precision(rawValue: CommandLine.arguments[2])
  else {
    print("usage: train-bench [PRESET PRECISION]")
    exit(2)
  }
  var random = SplitMix64(seed: 1)
  let graph = try preset.build(random: &random)
  let configuration = TrainingConfiguration(epochs: 1, batchSize: 128, precision: precision, seed: 1)
  _ = try Trainer.fit(graph, train: train.prefix(1280), configuration: configuration)
  let seconds = try Trainer.fit(graph, train: train, configuration: configuration).history[0].seconds
  print(
    #"{"model": "\#(preset.rawValue)", "precision": "\#(precision.rawValue)", "#
      + #""images_per_second": \#(Double(train.count) / seconds), "seconds": \#(seconds)}"#)
  exit(0)
}
let cases: [(ModelPreset, Precision)] = [
  (.mlp, .float32), (.mlp, .float16), (.mlp, .float64), (.cnn, .float32), (.cnnBN, .float32),
  (.resmlp, .float32),
]

print("| model | precision | images/s | ms per batch of 128 | BLAS share |")
print("|---|---|---:|---:|---:|")
for (preset, precision) in cases {
  var samples = [(Double, Double)]()
  for round in 0..<3 {
    var random = SplitMix64(seed: UInt64(round))
    let graph = try preset.build(random: &random)
    let warmup = TrainingConfiguration(epochs: 1, batchSize: 128, precision: precision, seed: 1)
    _ = try Trainer.fit(graph, train: train.prefix(1280), configuration: warmup)
    let configuration = TrainingConfiguration(epochs: 1, batchSize: 128, precision: precision, seed: 1)
    BLASStatistics.start()
    let start = ContinuousClock.now
    _ = try Trainer.fit(graph, train: train, configuration: configuration)
    let elapsed = ContinuousClock.now - start
    let blas = BLASStatistics.stop()
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    samples.append((seconds, blas.seconds / seconds))
  }
  let seconds = samples.map(\.0).sorted()[1]
  let share = samples.map(\.1).sorted()[1]
  print(
    "| \(preset.rawValue) | \(precision.rawValue) | \(String(format: "%.0f", Double(train.count) / seconds)) | "
      + "\(String(format: "%.1f", seconds / 60 * 1000)) | \(String(format: "%.0f%%", share * 100)) |")
}
