#ifndef SNNKIT_CFUZZER_H
#define SNNKIT_CFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver, for programs that keep their own main: parses libFuzzer's flags from
/// argc/argv and calls `callback` with each input (0 to keep going).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
