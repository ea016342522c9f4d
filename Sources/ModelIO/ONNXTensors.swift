import AtomicFile
import Foundation
import ONNXProto

extension ONNXGraphBuilder {
  /// The bytes of a tensor kept in an external data file (what `torch.onnx.export` writes by
  /// default, `model.onnx.data` beside the model): the file named by `location`, relative to
  /// the model's directory and inside it, from `offset` for `length` bytes (default: to the
  /// end). Nil for a tensor whose data is in the model.
  mutating func externalBytes(_ tensor: Onnx_TensorProto) throws -> Data? {
    guard tensor.dataLocation == .external || !tensor.externalData.isEmpty else { return nil }
    let entries = Dictionary(tensor.externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    guard let directory else {
      throw failure(
        "tensor '\(tensor.name)' keeps its data in an external file, which needs the model read from a file")
    }
    guard let location = entries["location"], !location.isEmpty, !location.hasPrefix("/"),
      !location.split(separator: "/").contains("..")
    else {
      throw failure(
        "tensor '\(tensor.name)': external data location '\(entries["location"] ?? "")' must be a file beside the model"
      )
    }
    if externalFiles[location] == nil {
      let path = (directory as NSString).appendingPathComponent(location)
      do {
        externalFiles[location] = try InputFile.read(path, limit: 1 << 36)
      } catch {
        throw failure("tensor '\(tensor.name)': its external data file cannot be read: \(error)")
      }
    }
    let bytes = externalFiles[location]!
    func integer(_ key: String) throws -> Int? {
      guard let text = entries[key] else { return nil }
      guard let value = Int(text), value >= 0 else {
        throw failure("tensor '\(tensor.name)': external data \(key) '\(text)' is not a byte count")
      }
      return value
    }
    let offset = try integer("offset") ?? 0
    let length = try integer("length") ?? max(bytes.count - offset, 0)
    guard offset <= bytes.count, length <= bytes.count - offset else {
      throw failure(
        "tensor '\(tensor.name)': external data \(offset)..<\(offset + length) lies outside '\(location)' (\(bytes.count) bytes)"
      )
    }
    let start = bytes.startIndex + offset
    return bytes[start..<(start + length)]
  }

  /// The values of an ONNX tensor: float, double, and integer types, from the tensor itself or
  /// from `external` (its external data's bytes).
  func constant(_ tensor: Onnx_TensorProto, external: Data? = nil) throws -> ONNXConstant {
    if external == nil, tensor.dataLocation == .external || !tensor.externalData.isEmpty {
      throw failure("tensor '\(tensor.name)' keeps its data in an external file, which is not supported here")
    }
    var count = 1
    for dim in tensor.dims {
      guard dim >= 0, dim <= 1 << 31 else { throw failure("tensor '\(tensor.name)' has dims \(tensor.dims)") }
      let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
      guard !overflow, product <= 1 << 30 else {
        throw failure("tensor '\(tensor.name)' of dims \(tensor.dims) is too large")
      }
      count = product
    }
    let dims = tensor.dims.map { Int($0) }
    func mismatch(_ found: Int) -> ModelIOError {
      failure("tensor '\(tensor.name)' has \(found) values, its dims \(dims) need \(count)")
    }
    let raw = external ?? tensor.rawData
    func fromRaw<T>(_ type: T.Type) throws -> [T] {
      guard raw.count == count * MemoryLayout<T>.size else {
        throw mismatch(raw.count / max(MemoryLayout<T>.size, 1))
      }
      // Little-endian, as ONNX stores it and as this machine is: the bytes are the values.
      return [T](unsafeUninitializedCapacity: count) { target, initialized in
        _ = raw.copyBytes(to: UnsafeMutableRawBufferPointer(target))
        initialized = count
      }
    }
    switch tensor.dataType {
    case 1:  // FLOAT
      if !raw.isEmpty {
        guard raw.count == count * MemoryLayout<Float>.size else {
          throw mismatch(raw.count / MemoryLayout<Float>.size)
        }
        return ONNXConstant(dims: dims, float32Bytes: raw)
      }
      guard tensor.floatData.count == count else { throw mismatch(tensor.floatData.count) }
      return ONNXConstant(dims: dims, floats: tensor.floatData, integers: nil)
    case 11:  // DOUBLE
      let values = raw.isEmpty ? tensor.doubleData : try fromRaw(Double.self)
      guard values.count == count else { throw mismatch(values.count) }
      return ONNXConstant(dims: dims, floats: values.map(Float.init), integers: nil)
    case 7:  // INT64
      let values = raw.isEmpty ? tensor.int64Data : try fromRaw(Int64.self)
      guard values.count == count else { throw mismatch(values.count) }
      let integers = values.map { Int($0) }
      return ONNXConstant(dims: dims, floats: integers.map(Float.init), integers: integers)
    case 6:  // INT32
      let values = raw.isEmpty ? tensor.int32Data : try fromRaw(Int32.self)
      guard values.count == count else { throw mismatch(values.count) }
      let integers = values.map { Int($0) }
      return ONNXConstant(dims: dims, floats: integers.map(Float.init), integers: integers)
    case 9:  // BOOL
      guard raw.count == count || tensor.int32Data.count == count else { throw mismatch(raw.count) }
      let integers = raw.isEmpty ? tensor.int32Data.map { Int($0) } : raw.map { Int($0) }
      return ONNXConstant(dims: dims, floats: integers.map(Float.init), integers: integers)
    default:
      throw failure("tensor '\(tensor.name)' has data type \(tensor.dataType), which is not supported")
    }
  }
}
