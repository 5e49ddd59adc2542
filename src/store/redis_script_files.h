#pragma once

#include <cstddef>

namespace delayq::store::redis_scripts {

// The Lua scripts (src/store/redis_scripts/*.lua), compiled into the binary by
// cmake/embed_files.cmake. `data` holds `size` bytes followed by a NUL (not counted).
struct EmbeddedFile {
  const char* name;  // file name, e.g. "add.lua"
  const unsigned char* data;
  size_t size;
};

extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

}  // namespace delayq::store::redis_scripts
