#ifndef SNNKIT_CMPI_SHIM_H
#define SNNKIT_CMPI_SHIM_H
#include <mpi.h>

// Open MPI's predefined handles are macros over the addresses of globals, which Swift cannot
// import; these functions return them.
static inline MPI_Comm snnkit_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype snnkit_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype snnkit_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype snnkit_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype snnkit_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype snnkit_mpi_int(void) { return MPI_INT; }
static inline MPI_Op snnkit_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op snnkit_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op snnkit_mpi_min(void) { return MPI_MIN; }
static inline int snnkit_mpi_success(void) { return MPI_SUCCESS; }
static inline void *snnkit_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int snnkit_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
#endif
