internal import CHDF5

/// The element types this module reads and writes.
///
/// Reading converts between numeric types as HDF5 does (a float32 dataset can be read as
/// `Double`, an int64 one as `Float`); strings and numbers never convert into each other.
public enum HDF5ElementType: String, Sendable, CaseIterable, CustomStringConvertible {
  case float16, float32, float64, int32, int64, uint8
  /// Any other integer width or signedness (read it as one of the numeric types).
  case otherInteger
  /// Any other floating-point layout.
  case otherFloat
  case string
  /// Compound, enum, opaque, reference and the other classes this module does not read.
  case unsupported

  public var description: String { rawValue }

  /// Whether values of this type can be read into a numeric Swift type.
  public var isNumeric: Bool {
    switch self {
    case .string, .unsupported: return false
    default: return true
    }
  }

  /// Classifies a file or memory datatype.
  static func classify(_ type: hid_t) -> HDF5ElementType {
    let size = H5Tget_size(type)
    switch H5Tget_class(type) {
    case H5T_FLOAT:
      switch size {
      case 2: return .float16
      case 4: return .float32
      case 8: return .float64
      default: return .otherFloat
      }
    case H5T_INTEGER:
      let signed = H5Tget_sign(type) == H5T_SGN_2
      switch (size, signed) {
      case (4, true): return .int32
      case (8, true): return .int64
      case (1, false): return .uint8
      default: return .otherInteger
      }
    case H5T_STRING: return .string
    default: return .unsupported
    }
  }

  /// A new datatype for values of this type in memory (native byte order) or in a file
  /// (little-endian IEEE / two's complement, as h5py writes). The caller closes it.
  func makeType(forFile: Bool) -> hid_t {
    switch self {
    case .float16:
      // IEEE binary16: sign bit 15, exponent bits 10-14 (bias 15), mantissa bits 0-9.
      let type = H5Tcopy(snn_H5T_IEEE_F32LE())
      H5Tset_fields(type, 15, 10, 5, 0, 10)
      H5Tset_size(type, 2)
      H5Tset_ebias(type, 15)
      return type
    case .float32: return H5Tcopy(forFile ? snn_H5T_IEEE_F32LE() : snn_H5T_NATIVE_FLOAT())
    case .float64: return H5Tcopy(forFile ? snn_H5T_IEEE_F64LE() : snn_H5T_NATIVE_DOUBLE())
    case .int32: return H5Tcopy(forFile ? snn_H5T_STD_I32LE() : snn_H5T_NATIVE_INT32())
    case .int64: return H5Tcopy(forFile ? snn_H5T_STD_I64LE() : snn_H5T_NATIVE_INT64())
    case .uint8: return H5Tcopy(forFile ? snn_H5T_STD_U8LE() : snn_H5T_NATIVE_UINT8())
    case .otherInteger, .otherFloat, .string, .unsupported:
      preconditionFailure("no datatype is made for \(self)")
    }
  }
}

/// A Swift numeric type that maps to an HDF5 element type.
public protocol HDF5Scalar: Sendable {
  static var hdf5ElementType: HDF5ElementType { get }
  static var hdf5Zero: Self { get }
}

extension Float16: HDF5Scalar {
  public static var hdf5ElementType: HDF5ElementType { .float16 }
  public static var hdf5Zero: Float16 { 0 }
}
extension Float: HDF5Scalar {
  public static var hdf5ElementType: HDF5ElementType { .float32 }
  public static var hdf5Zero: Float { 0 }
}
extension Double: HDF5Scalar {
  public static var hdf5ElementType: HDF5ElementType { .float64 }
  public static var hdf5Zero: Double { 0 }
}
extension Int32: HDF5Scalar {
  public static var hdf5ElementType: HDF5ElementType { .int32 }
  public static var hdf5Zero: Int32 { 0 }
}
extension Int64: HDF5Scalar {
  public static var hdf5ElementType: HDF5ElementType { .int64 }
  public static var hdf5Zero: Int64 { 0 }
}
extension UInt8: HDF5Scalar {
  public static var hdf5ElementType: HDF5ElementType { .uint8 }
  public static var hdf5Zero: UInt8 { 0 }
}

/// How a string is stored.
///
/// Keras 3 and current h5py write variable-length UTF-8; older h5py wrote fixed-length byte
/// strings (`|S` arrays); some tools write variable-length ASCII. Readers accept all three.
public enum HDF5StringEncoding: Sendable, Equatable {
  case variableUTF8
  case variableASCII
  /// Fixed-length, null-padded ASCII, each element as long as the longest string (at least 1).
  case fixedASCII
}
