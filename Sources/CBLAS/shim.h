#ifndef SNNKIT_CBLAS_SHIM_H
#define SNNKIT_CBLAS_SHIM_H
#include <cblas.h>
#endif
