import Datasets
import Foundation
import FuzzSupport

// Fuzzes the IDX reader (plain and gzip): each input is written to a scratch file in memory and
// read as an images file (rank 3) and as a labels file (rank 1). Every input must end in a file
// or a thrown DatasetError.

let path = scratchPath("data.idx")
runFuzzer { input in
  put(input, at: path)
  _ = try? IDXFile.read(path, rank: 3)
  _ = try? IDXFile.read(path, rank: 1)
}
