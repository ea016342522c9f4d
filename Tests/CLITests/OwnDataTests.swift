import Foundation
import TestSupport
import Testing

/// A data set that a package ships — scikit-learn's bundled 8×8 handwritten digits (1,797
/// images, 0…16 grey levels) — saved as NumPy arrays in Keras's x_train/x_test layout, through
/// every tool: train, evaluate, convert, simulate and report, preprocessed alike everywhere.
@Suite(.enabled(if: pythonHas("sklearn", "numpy"), "needs python3 with scikit-learn and numpy"))
struct OwnDataTests {
  @Test func digitsGoFromTrainingToReport() throws {
    let directory = try makeTemporaryDirectory("digits")
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    let script = """
      import sys, numpy as np
      from sklearn.datasets import load_digits
      d = load_digits()
      x, y = d.images.astype(np.uint8), d.target
      np.savez(sys.argv[1], x_train=x[:1400], y_train=y[:1400], x_test=x[1400:], y_test=y[1400:])
      """
    let made = try runProcess("/usr/bin/env", ["python3", "-c", script, path("digits.npz")])
    #expect(made.status == 0, "\(made.output)")
    try Data(
      #"{"name": "digits-mlp", "input": [8, 8, 1], "layers": [{"type": "flatten"}, {"type": "dense", "units": 64, "activation": "relu"}, {"type": "dense", "units": 10}]}"#
        .utf8
    ).write(to: URL(fileURLWithPath: path("digits.json")))
    let data = ["--data", path("digits.npz"), "--scale", "0.0625"]
    let fit = try runTool(
      "snntrain",
      [
        "fit", "--model", path("digits.json"), "--epochs", "30", "--lr", "0.01", "--batch-size", "32", "-o",
        path("d.h5"),
      ]
        + data)
    #expect(fit.status == 0, "\(fit.stderr)")
    let eval = try runTool("snnconv", ["eval", path("d.h5")] + data)
    #expect(eval.status == 0, "\(eval.stderr)")
    // "digits-mlp on …/digits.npz/test: top-1 accuracy 91.18% (362/397)": the 397 test images.
    let counts = eval.stdout.split(separator: "(").last.map { $0.dropLast(2).split(separator: "/") }
    let correct = Int(counts?.first ?? "") ?? 0
    #expect(eval.stdout.contains("digits.npz/test") && counts?.last == "397", "\(eval.stdout)")
    #expect(correct >= 340, "the ANN gets \(correct) of 397 test digits: \(eval.stdout)")
    let convert = try runTool(
      "snnconv", ["convert", path("d.h5"), "--calibration", "300", "-o", path("d.snn.h5")] + data)
    #expect(convert.status == 0, "\(convert.stderr)")
    let run = try runTool(
      "snnsim", ["run", path("d.snn.h5"), "--timesteps", "8,64", "--results", path("run.json")] + data)
    #expect(run.status == 0, "\(run.stderr)")
    let record =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("run.json"))))
      as! [String: Any]
    let ann = record["ann_accuracy"] as! Double
    #expect(abs(ann - Double(correct) / 397) < 1e-9, "the simulator's ANN is snnconv eval's")
    #expect((record["accuracy"] as! [Double]).last! >= ann - 0.01, "\(record["accuracy"]!) vs \(ann)")
    let report = try runTool("snnsim", ["report", path("run.json"), "-o", path("report")])
    #expect(report.status == 0, "\(report.stderr)")
    let summary = try String(contentsOfFile: path("report/summary.md"), encoding: .utf8)
    #expect(summary.contains("digits"), "\(summary)")
  }
}

/// A colour-image model written by real Keras — Rescaling, ZeroPadding2D, a strided Conv2D,
/// DepthwiseConv2D, SeparableConv2D, GlobalMaxPooling2D, a softmax head — trained on a
/// CIFAR-shaped data set of 32×32×3 uint8 images saved as .npz (tools/make_rgb_cnn.py), through
/// evaluation, conversion, simulation and the report.
@Suite(.enabled(if: pythonHas("keras", "jax", "numpy"), "needs python3 with keras, jax and numpy"))
struct OwnModelTests {
  @Test func kerasColourCNNGoesFromEvaluationToReport() throws {
    let directory = try makeTemporaryDirectory("rgb")
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    let made = try runProcess(
      "/usr/bin/env",
      ["python3", repositoryRoot.appendingPathComponent("tools/make_rgb_cnn.py").path, directory.path])
    try #require(made.status == 0, "\(made.output)")
    let keras =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("keras.json"))))
      as! [String: Int]
    let data = ["--data", path("shapes.npz")]
    let eval = try runTool("snnconv", ["eval", path("rgb_cnn.h5")] + data)
    #expect(eval.status == 0, "\(eval.stderr)")
    // Keras's own score, image for image: "(184/200)".
    #expect(
      eval.stdout.contains("(\(keras["correct"]!)/\(keras["count"]!))"), "\(eval.stdout) vs Keras \(keras)")
    let convert = try runTool(
      "snnconv", ["convert", path("rgb_cnn.h5"), "--calibration", "300", "-o", path("rgb.snn.h5")] + data)
    #expect(convert.status == 0, "\(convert.stderr)")
    // The global max pooling's decomposition is one line, not 63.
    #expect(
      convert.stdout.contains("global_max_pooling2d (63 populations)  Binary(max)"), "\(convert.stdout)")
    let run = try runTool(
      "snnsim",
      ["run", path("rgb.snn.h5"), "--timesteps", "32,128", "--limit", "100", "--results", path("run.json")]
        + data)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("global_max_pooling2d (63 populations) MAE"), "\(run.stdout)")
    let record =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("run.json"))))
      as! [String: Any]
    let ann = record["ann_accuracy"] as! Double
    let accuracy = record["accuracy"] as! [Double]
    #expect(ann >= 0.8, "the Keras model scores \(ann) on the first 100 test images")
    #expect(accuracy[1] >= ann - 0.02, "SNN at T = 128: \(accuracy) vs ANN \(ann)")
    let report = try runTool("snnsim", ["report", path("run.json"), "-o", path("report")])
    #expect(report.status == 0, "\(report.stderr)")
    // The wide table: the run's accuracy at T = 32 and 128, as numbers.
    let wide = try String(contentsOfFile: path("report/accuracy-wide.csv"), encoding: .utf8)
      .split(separator: "\n").map { csvFields(String($0)) }
    let columns = wide[0]
    let row = wide[1]
    for (t, value) in zip([32, 128], accuracy) {
      let cell = try #require(columns.firstIndex(of: "t\(t)_percent"), "\(columns)")
      #expect(abs((Double(row[cell]) ?? -1) - value * 100) < 0.01, "\(wide)")
    }
    // One plot for the decomposed layer, not one per population.
    let plots = try FileManager.default.contentsOfDirectory(atPath: path("report")).filter {
      $0.hasPrefix("population-")
    }
    #expect(plots.count == 4, "\(plots)")
    // The spike raster of the first image: one band per table entry, the decomposed layer one band.
    let raster = try #require(record["raster"] as? [String: Any])
    let bands = try #require(raster["bands"] as? [[String: Any]])
    #expect(raster["image"] as? Int == 0 && raster["steps"] as? Int == 128)
    #expect(
      bands.map { $0["label"] as! String }.contains("global_max_pooling2d (63 populations)"), "\(bands)")
    #expect(bands.count == plots.count, "\(bands.map { $0["label"]! })")
    let svg = try String(contentsOfFile: path("report/raster-1.svg"), encoding: .utf8)
    #expect(svg.components(separatedBy: "class=\"band\"").count - 1 == bands.count)
  }
}
