/// An error from the HDF5 layer. Every case names the file and, where there is one, the HDF5
/// path of the object involved, so that a message read on its own tells the user where to look.
public enum HDF5Error: Error, Equatable, Sendable {
  /// The file could not be opened: missing, unreadable, not HDF5, truncated or corrupt.
  case cannotOpen(file: String, reason: String)
  /// The file could not be created (directory missing, no permission, already exists).
  case cannotCreate(file: String, reason: String)
  /// No object (group, dataset or attribute) exists at `path`.
  case notFound(file: String, path: String)
  /// The object at `path` exists but is of another kind (a dataset where a group was expected…).
  case wrongKind(file: String, path: String, expected: String, actual: String)
  /// The stored element type cannot be read as the requested one.
  case typeMismatch(file: String, path: String, expected: String, actual: String)
  /// The number of values does not match the declared shape.
  case shapeMismatch(file: String, path: String, expected: [Int], actual: [Int])
  /// A library call failed; `reason` is HDF5's own most specific message.
  case operationFailed(file: String, path: String, operation: String, reason: String)
  /// The path goes through a soft or external link, which the toolkit does not follow: a link
  /// could point at any file on the machine, or loop.
  case link(file: String, path: String, kind: String)
  /// The object claims more elements than the toolkit reads (``HDF5Limits``).
  case tooLarge(file: String, path: String, shape: [Int], limit: Int)
}

extension HDF5Error: CustomStringConvertible {
  public var description: String {
    switch self {
    case .cannotOpen(let file, let reason):
      return "cannot open HDF5 file '\(file)': \(reason)"
    case .cannotCreate(let file, let reason):
      return "cannot create HDF5 file '\(file)': \(reason)"
    case .notFound(let file, let path):
      return "\(file): no object at '\(path)'"
    case .wrongKind(let file, let path, let expected, let actual):
      return "\(file): '\(path)' is a \(actual), expected a \(expected)"
    case .typeMismatch(let file, let path, let expected, let actual):
      return "\(file): '\(path)' holds \(actual), cannot read it as \(expected)"
    case .shapeMismatch(let file, let path, let expected, let actual):
      return "\(file): '\(path)' has shape \(actual), expected \(expected)"
    case .operationFailed(let file, let path, let operation, let reason):
      let detail = reason.isEmpty ? "" : ": \(reason)"
      return "\(file): \(operation) failed at '\(path)'\(detail)"
    case .link(let file, let path, let kind):
      return "\(file): '\(path)' is \(kind) link; links are not followed (they could point outside the file)"
    case .tooLarge(let file, let path, let shape, let limit):
      let claimed = shape.map(String.init).joined(separator: "×")
      return "\(file): '\(path)' claims \(claimed) elements, more than the \(limit) this toolkit reads"
    }
  }
}
