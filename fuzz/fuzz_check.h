#pragma once

#include <cstdio>

// A property of the code under test that must hold for every input: on failure, says which
// and traps, so libFuzzer saves the input and the replay test fails.
#define FUZZ_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      __builtin_trap();                                                                        \
    }                                                                                          \
  } while (0)
