import AtomicFile
import Foundation
import Tensor

/// Network outputs as CSV: a header `y0,y1,…` then one row per image in data order, each value
/// written in the shortest form that reads back to the identical Float.
public enum OutputsCSV {
  /// Writes `outputs` (`[images, features…]`, flattened per image) to `path` atomically.
  public static func write(_ outputs: Tensor<Float>, to path: String) throws {
    let rows = outputs.shape.first ?? 0
    let width = rows == 0 ? 0 : outputs.count / rows
    var text = (0..<width).map { "y\($0)" }.joined(separator: ",") + "\n"
    text.reserveCapacity(rows * width * 12)
    outputs.scalars.withUnsafeBufferPointer { values in
      for row in 0..<rows {
        for column in 0..<width {
          if column > 0 { text += "," }
          text += values[row * width + column].description
        }
        text += "\n"
      }
    }
    try AtomicFile.write(text, to: path)
  }
}
