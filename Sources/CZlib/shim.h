#ifndef SNNKIT_CZLIB_SHIM_H
#define SNNKIT_CZLIB_SHIM_H
#include <zlib.h>
#endif
