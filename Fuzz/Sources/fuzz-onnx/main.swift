import FuzzSupport
import Graph
import ModelIO
import Tensor

// Fuzzes the ONNX reader: each input is read as a model file; a model that reads is evaluated on
// one image of zeros when its input is small, so that whatever the reader accepted also runs.

runFuzzer { input in
  guard let graph = try? ONNXModelReader.read(data: input, file: "fuzz.onnx") else { return }
  let shape = graph.inputNodes[0].shape
  guard shape.reduce(1, *) <= 1 << 14, graph.parameterCount <= 1 << 20 else { return }
  _ = graph.predict([Tensor(zeros: [1] + shape)])
}
