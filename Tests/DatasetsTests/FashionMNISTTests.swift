import Datasets
import Tensor
import TestSupport
import Testing

/// The real data set from Debian's `dataset-fashion-mnist`. Expected values were read from the
/// same files with numpy (`np.frombuffer(gzip.open(...).read()[8:], np.uint8)`).
@Suite(.needsFashionMNIST) struct FashionMNISTTests {
  @Test func testSplitHasTheKnownContents() throws {
    let data = try DataSource.fashionMNIST.load(.test)
    #expect(data.count == 10_000)
    #expect(data.images.shape == [10_000, 28, 28, 1])
    #expect(Array(data.labels.prefix(10)) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    #expect(data.classCounts == [Int](repeating: 1000, count: 10))
    #expect(data.classNames[9] == "Ankle boot")
    #expect(data.name == "fashion-mnist/test")
    // Sum of the raw bytes of image 0 is 33456; pixels are bytes / 255.
    let first = data.images.rows(0..<1).scalars.reduce(0, +)
    #expect(abs(first - Float(33456) / 255) < 1e-3)
    #expect(data.images.scalars.min() == 0 && data.images.scalars.max() == 1)
  }

  @Test func trainSplitAndLimit() throws {
    let data = try DataSource.fashionMNIST.load(.train, limit: 500)
    #expect(data.count == 500)
    #expect(Array(data.labels.prefix(10)) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    let first = data.images.rows(0..<1).scalars.reduce(0, +)
    #expect(abs(first - Float(76247) / 255) < 1e-3)
    #expect(data.prefix(3).labels == [9, 0, 0])
  }

  @Test func sourceNamesParse() throws {
    #expect(try DataSource(parsing: "fashion-mnist") == .fashionMNIST)
    #expect(try DataSource(parsing: "/tmp") == .directory("/tmp"))
    #expect(throws: DatasetError.unknownSource("mnist-please")) { try DataSource(parsing: "mnist-please") }
  }
}
