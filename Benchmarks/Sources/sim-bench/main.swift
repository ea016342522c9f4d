import CBLASRaw
import Conversion
import Datasets
import Foundation
import Graph
import ModelIO
import Spiking
import Tensor

// Simulation throughput against raw BLAS, and peak memory.
//
//   sim-bench MODEL.h5 BATCH IMAGES STEPS [fuse|decompose] [dense|event] [signgd|subgradient] [THREADS]
//
// Converts MODEL.h5 (signGD unless told, max normalization from 1,000 training images), then
// 1. simulates the first IMAGES test images for STEPS time steps in batches of BATCH
//    (Simulator.run, measuring only at T = STEPS, on THREADS worker threads: all cores unless
//    told), and
// 2. times, for the same batches, STEPS dense forward passes of the network's GEMMs alone:
//    one cblas_sgemm per Dense layer and per Conv2D layer (on a prepared im2col matrix, so the
//    copy is not counted) with the shapes the network has, the layers fed only by the analog
//    input once per batch — the floor any simulator of this network pays; timed with OpenBLAS
//    on one and on two threads, the better counting.
// Prints one JSON line: image·steps per second of both, their ratio, and the process's peak
// resident memory (run one process per batch size to compare memory).

MemoryTuning.keepFreedMemory()  // as the command-line tools do
let arguments = CommandLine.arguments
guard arguments.count >= 5, let batch = Int(arguments[2]), let count = Int(arguments[3]),
  let steps = Int(arguments[4])
else {
  FileHandle.standardError.write(
    "usage: sim-bench MODEL.h5 BATCH IMAGES STEPS [fuse|decompose] [dense|event] [signgd|subgradient] [THREADS]\n"
      .data(
        using: .utf8)!)
  exit(2)
}
let fuse = arguments.count > 5 && arguments[5] == "fuse"
let update = arguments.count > 6 ? AffineUpdate(rawValue: arguments[6]) ?? .dense : .dense
let dynamics = arguments.count > 7 ? Dynamics(rawValue: arguments[7]) ?? .signGD : .signGD
let threads = arguments.count > 8 ? Int(arguments[8]) : nil
let graph = try KerasModelReader.read(arguments[1])
let calibration = try DataSource.fashionMNIST.load(.train, limit: 1000).images
let network = try SpikingNetwork(
  graph, dynamics: dynamics, normalization: .max, calibration: calibration, fuse: fuse)
let test = try DataSource.fashionMNIST.load(.test, limit: count)

func seconds(_ body: () throws -> Void) rethrows -> Double {
  let start = ContinuousClock.now
  try body()
  let elapsed = ContinuousClock.now - start
  return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

var accuracy = 0.0
let simulated = try seconds {
  accuracy = try Simulator.run(
    network, images: test.images, labels: test.labels,
    settings: SimulationSettings(timesteps: [steps], batchSize: batch, update: update, threads: threads)
  ).accuracy[0]
}

// The GEMM shapes of one forward pass for `rows` images: (m, n, k) per Dense/Conv2D node, and
// whether the node is time-invariant (fed, through affine nodes only, by the analog input: the
// simulator computes it once per batch, so the floor does too).
func gemmShapes(images: Int) -> [(m: Int, n: Int, k: Int, once: Bool)] {
  var invariant = Set<String>()
  for node in network.graph.nodes {
    if case .input = node.op {
      invariant.insert(node.name)
    } else if node.op.isAffine && network.populations.allSatisfy({ $0.node != node.name })
      && node.inputs.allSatisfy(invariant.contains)
    {
      invariant.insert(node.name)
    }
  }
  return network.graph.nodes.compactMap { node in
    switch node.op {
    case .dense(let units, _):
      let width = network.graph.node(node.inputs[0])!.shape.last!
      return (images * node.shape.dropLast().reduce(1, *), units, width, invariant.contains(node.name))
    case .conv2d(let a):
      let channels = network.graph.node(node.inputs[0])!.shape.last!
      return (
        images * node.shape[0] * node.shape[1], a.filters, a.kernelSize[0] * a.kernelSize[1] * channels,
        invariant.contains(node.name)
      )
    default: return nil
    }
  }
}

/// The GEMMs alone for every batch and step, OpenBLAS on `threads` threads.
func rawSeconds(blasThreads threads: Int32) -> Double {
  openblas_set_num_threads(threads)
  var total = 0.0
  var start = 0
  while start < count {
    let images = min(batch, count - start)
    let shapes = gemmShapes(images: images)
    var buffers = shapes.map { shape in
      (
        a: [Float](repeating: 0.01, count: shape.m * shape.k),
        b: [Float](repeating: 0.01, count: shape.k * shape.n),
        c: [Float](repeating: 0, count: shape.m * shape.n)
      )
    }
    total += seconds {
      for step in 0..<steps {
        for (index, shape) in shapes.enumerated() where step == 0 || !shape.once {
          buffers[index].a.withUnsafeBufferPointer { a in
            buffers[index].b.withUnsafeBufferPointer { b in
              buffers[index].c.withUnsafeMutableBufferPointer { c in
                cblas_sgemm(
                  CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(shape.m), Int32(shape.n), Int32(shape.k),
                  1,
                  a.baseAddress, Int32(shape.k), b.baseAddress, Int32(shape.n), 0, c.baseAddress,
                  Int32(shape.n)
                )
              }
            }
          }
        }
      }
    }
    start += images
  }
  return total
}
let rawOne = rawSeconds(blasThreads: 1)
let rawTwo = rawSeconds(blasThreads: 2)
let raw = min(rawOne, rawTwo)
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let imageSteps = Double(count * steps)
let line: [String: Any] = [
  "model": arguments[1], "batch": batch, "images": count, "steps": steps, "fused": fuse,
  "engine": update.rawValue, "dynamics": dynamics.rawValue,
  "threads": threads ?? ProcessInfo.processInfo.activeProcessorCount, "accuracy": accuracy,
  "neurons": network.populations.reduce(0) { $0 + network.graph.node($1.node)!.shape.reduce(1, *) },
  "simulation_seconds": simulated, "simulation_image_steps_per_second": imageSteps / simulated,
  "raw_blas_seconds": raw, "raw_blas_image_steps_per_second": imageSteps / raw, "ratio": simulated / raw,
  "raw_blas_one_thread_seconds": rawOne, "raw_blas_two_threads_seconds": rawTwo,
  "share_of_limit": raw / simulated,
  "peak_rss_mib": Double(usage.ru_maxrss) / 1024,
]
let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
