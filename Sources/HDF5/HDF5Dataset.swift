internal import CHDF5

/// An open HDF5 dataset: an n-dimensional array of numbers or strings.
public final class HDF5Dataset: HDF5Object, @unchecked Sendable {
  private var value: HDF5Value { HDF5Value(kind: .dataset, id: id, file: fileName, path: path) }

  /// The dataset's shape (`[]` for a scalar dataset).
  public var shape: [Int] {
    get throws { try HDF5Library.locked { try value.shape } }
  }

  /// The stored element type.
  public var elementType: HDF5ElementType {
    get throws { try HDF5Library.locked { try value.elementType } }
  }

  /// Reads every element in row-major order, converted to `T`.
  /// - Throws: ``HDF5Error/typeMismatch(file:path:expected:actual:)`` for string data, or
  ///   ``HDF5Error/operationFailed(file:path:operation:reason:)`` when the stored bytes are
  ///   unreadable (a truncated or corrupt file).
  public func read<T: HDF5Scalar>(as type: T.Type = T.self) throws -> [T] {
    try HDF5Library.locked { try value.readNumbers(as: T.self) }
  }

  /// Reads every element after checking that the stored shape is `expected`, so that a file
  /// claiming a huge or wrong shape is refused before anything is allocated for it.
  /// - Throws: ``HDF5Error/shapeMismatch(file:path:expected:actual:)``, or what
  ///   ``read(as:)`` throws.
  public func read<T: HDF5Scalar>(as type: T.Type = T.self, expecting expected: [Int]) throws -> [T] {
    try HDF5Library.locked {
      let stored = try value.shape
      guard stored == expected else {
        throw HDF5Error.shapeMismatch(file: fileName, path: path, expected: expected, actual: stored)
      }
      return try value.readNumbers(as: T.self)
    }
  }

  /// Reads every element of a string dataset, whatever its charset and layout.
  public func readStrings() throws -> [String] {
    try HDF5Library.locked { try value.readStrings() }
  }
}
