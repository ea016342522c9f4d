#ifndef SNNKIT_CMALLOC_SHIM_H
#define SNNKIT_CMALLOC_SHIM_H
#include <malloc.h>
#endif
