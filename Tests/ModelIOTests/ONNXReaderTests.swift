import Foundation
import Graph
import ModelIO
import Tensor
import TestSupport
import Testing

/// The ONNX reader against onnxruntime: each fixture of Tests/ModelIOTests/Fixtures/onnx/
/// (written by tools/make_onnx_fixtures.py in the form torch.onnx.export gives) evaluates on its
/// N×C×H×W input, as stored, to what onnxruntime computed; malformed files are refused with a
/// message naming what is wrong.
@Suite struct ONNXReaderTests {
  static let fixtures = repositoryRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures/onnx")

  static func path(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

  @Test(arguments: [
    "cnn", "resnet", "mobilenet", "mlp", "mlp-erf", "ops", "deconv", "merge", "squeeze-excite",
  ])
  func evaluatesAsONNXRuntimeDoes(name: String) throws {
    let graph = try ONNXModelReader.read(Self.path("\(name).onnx"))
    let input = try readNPY(Self.fixtures.appendingPathComponent("\(name)-input.npy"))
    let expected = try readNPY(Self.fixtures.appendingPathComponent("\(name)-expected.npy"))
    let images = Tensor<Float>(shape: input.shape, scalars: input.values)
    let output = graph.predict([try graph.adaptInput(images)])[0]
    #expect(output.shape == expected.shape)
    let largest = expected.values.reduce(Float(0)) { max($0, abs($1)) }
    for (k, (a, b)) in zip(output.scalars, expected.values).enumerated() {
      #expect(abs(a - b) <= 1e-4 * max(largest, 1), "\(name): output \(k): \(a) vs onnxruntime's \(b)")
    }
    #expect(
      output.argmaxLastAxis() == Tensor(shape: expected.shape, scalars: expected.values).argmaxLastAxis())
  }

  /// A squeeze-and-excitation gate (N×C×1×1, first or second operand of Mul) is repeated over
  /// the image channels-last, so the product is of one shape and the image never leaves its layout.
  @Test func aGateIsRepeatedOverTheImage() throws {
    let graph = try ONNXModelReader.read(Self.path("squeeze-excite.onnx"))
    let repeats = graph.nodes.filter { $0.op == .upSample2d(rows: 6, columns: 5) }
    #expect(repeats.count == 2, "\(graph.nodes.map(\.op.kind))")
    // (The third product is SiLU written as x · Sigmoid(x) on the gate's branch.)
    let products = graph.nodes.filter { $0.op == .binary(.product) && $0.shape == [6, 5, 8] }
    #expect(products.count == 2 && products.allSatisfy { $0.inputs.contains { $0.hasSuffix("_broadcast") } })
    #expect(graph.nodes.filter { if case .permute = $0.op { true } else { false } }.count == 1)
  }

  /// The shape subgraph of `x.view(x.size(0), -1)` leaves no node behind, and the images move
  /// channels last once, first thing.
  @Test func shapeArithmeticIsFoldedAndLayoutMovesOnce() throws {
    let graph = try ONNXModelReader.read(Self.path("cnn.onnx"))
    #expect(graph.inputNodes[0].shape == [3, 16, 16])
    let permutes = graph.nodes.filter { if case .permute = $0.op { true } else { false } }
    // One into channels-last after the input, one back to C×H×W before the flattening.
    #expect(permutes.count == 2, "\(graph.nodes.map(\.op.kind))")
    #expect(graph.nodes[1].op == .permute(order: [1, 2, 0]))
    #expect(!graph.nodes.contains { $0.op.kind.contains("Shape") || $0.op.kind.contains("Gather") })
    #expect(graph.nodes.filter { if case .dense = $0.op { true } else { false } }.count == 2)
  }

  @Test(arguments: [
    ("bad-truncated.onnx", "not a readable ONNX model"),
    ("bad-huge-length.onnx", "not a readable ONNX model"),
    ("bad-order.onnx", "which no earlier node produces"),
    ("bad-dims.onnx", "its dims"),
    ("bad-op.onnx", "Selu is not supported; supported: Add"),
    ("bad-external.onnx", "its external data file cannot be read"),
    ("bad-external-location.onnx", "must be a file beside the model"),
    ("bad-maxpool-padding.onnx", "supported only after a ReLU"),
    ("bad-convtranspose.onnx", "grouped transposed convolutions are not supported"),
  ])
  func malformedFilesAreRefusedNamingWhy(file: String, message: String) throws {
    #expect {
      _ = try ONNXModelReader.read(Self.path(file))
    } throws: { error in
      let text = "\(error)"
      return text.contains(message) && text.contains(file)
    }
  }

  /// Weights in an external data file beside the model, as torch.onnx.export writes them by
  /// default, read as the same weights inline.
  @Test func externalDataReadsAsInlineData() throws {
    let inline = try ONNXModelReader.read(Self.path("cnn.onnx"))
    let external = try ONNXModelReader.read(Self.path("cnn-external.onnx"))
    let input = try readNPY(Self.fixtures.appendingPathComponent("cnn-input.npy"))
    let images = Tensor<Float>(shape: input.shape, scalars: input.values)
    #expect(external.predict([images])[0].scalars == inline.predict([images])[0].scalars)
    // From bytes alone there is no directory to find the data file in.
    let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("cnn-external.onnx"))
    #expect(throws: ModelIOError.self) { _ = try ONNXModelReader.read(data: data, file: "cnn-external.onnx") }
  }

  @Test func theOperatorRefusedIsNamedWithItsNodeAndOpset() throws {
    do {
      _ = try ONNXModelReader.read(Self.path("bad-op.onnx"))
      Issue.record("read a model with an unsupported operator")
    } catch {
      #expect("\(error)".contains("(Selu, opset 13)"), "\(error)")
    }
  }
}

/// GELU written out with Erf becomes one GELU node, whichever order the halving comes in.
@Suite struct ONNXGELUTests {
  @Test func theErfFormulaIsReadAsGELU() throws {
    let graph = try ONNXModelReader.read(ONNXReaderTests.path("mlp-erf.onnx"))
    let kinds = graph.nodes.map(\.op.kind)
    #expect(kinds.filter { $0 == "Activation(gelu)" }.count == 2, "\(kinds)")
    #expect(!kinds.contains("ScaleShift"), "\(kinds)")
  }
}
