import Foundation
import FuzzSupport
import HDF5
import ModelIO

// Fuzzes the Keras model_config parser and the binding of its layers to weights: an input is one
// byte choosing a weights file (the Keras fixtures and shipped models that hold a model_config,
// opened once) followed by
// the model_config JSON text. Every input must end in a graph or a thrown ModelIOError.

let root = ProcessInfo.processInfo.environment["SNNKIT_ROOT"] ?? FileManager.default.currentDirectoryPath
let weightFiles = (["Tests/ModelIOTests/Fixtures", "models"] as [String]).flatMap { folder -> [String] in
  let directory = (root as NSString).appendingPathComponent(folder)
  let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
  return names.filter { $0.hasSuffix(".h5") && !$0.hasSuffix(".snn.h5") }.sorted().map {
    (directory as NSString).appendingPathComponent($0)
  }
}
let weightGroups = weightFiles.compactMap { path -> HDF5Group? in
  guard let file = try? HDF5File.open(path), let top = try? file.root, top.hasAttribute("model_config") else {
    return nil
  }
  return top.contains("model_weights") ? try? top.group("model_weights") : top
}
guard !weightGroups.isEmpty else { fatalError("no Keras models under \(root); set SNNKIT_ROOT") }

runFuzzer { input in
  guard let selector = input.first else { return }
  let weights = weightGroups[Int(selector) % weightGroups.count]
  let text = String(decoding: input.dropFirst(), as: UTF8.self)
  _ = try? KerasModelReader.read(config: text, weights: weights, file: "fuzz")
}
