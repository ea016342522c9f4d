#ifndef SNNKIT_CHDF5_SHIM_H
#define SNNKIT_CHDF5_SHIM_H
#include <hdf5.h>

/* HDF5 spells many constants as macros that expand to function calls or casts,
   which Swift cannot import. Each is wrapped here as a static inline function. */

static inline hid_t snn_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t snn_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline hid_t snn_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t snn_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t snn_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t snn_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t snn_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t snn_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline unsigned snn_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned snn_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned snn_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned snn_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline size_t snn_H5T_VARIABLE(void) { return H5T_VARIABLE; }

static inline hid_t snn_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t snn_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t snn_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t snn_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t snn_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t snn_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t snn_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t snn_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t snn_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t snn_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t snn_H5T_C_S1(void) { return H5T_C_S1; }

/* Keeps the innermost (most specific) message of the default error stack. */
static inline herr_t snn_error_walk(unsigned n, const H5E_error2_t *err, void *data) {
  char *out = (char *)data;
  if (n == 0 && err && err->desc) {
    size_t i = 0;
    for (; err->desc[i] && i < 255; i++) out[i] = err->desc[i];
    out[i] = 0;
  }
  return 0;
}

/* Copies the last (innermost) error description into `buffer` (256 bytes) and clears the stack. */
static inline void snn_last_error(char *buffer) {
  buffer[0] = 0;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, snn_error_walk, buffer);
  H5Eclear2(H5E_DEFAULT);
}
#endif
