import Foundation
import HDF5

/// What every tool does before it parses its arguments: when started as the child that checks
/// an HDF5 file (``HDF5Isolation``), do only that and exit; otherwise turn that checking on, so
/// that a crash of libhdf5 on a damaged file becomes a clean error, and join the job when
/// started by `mpirun` or `srun` (the probe child never does: it exits before).
public func startTool() {
  // Past a file-size limit (`ulimit -f`) a write then fails with EFBIG and is reported, and the
  // temporary file removed, as on a full disk, instead of the signal killing the tool mid-write.
  signal(SIGXFSZ, SIG_IGN)
  HDF5Isolation.runProbeIfAsked()
  HDF5Isolation.enable()
  joinJob()
}
