#pragma once

#include <cstddef>

namespace delayq::api {

// The dashboard's files (src/ui/), compiled into the binary by cmake/embed_files.cmake.
// `data` holds `size` bytes followed by a NUL (not counted).
struct EmbeddedFile {
  const char* name;  // path under src/ui/, e.g. "app.js"
  const unsigned char* data;
  size_t size;
};

extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

}  // namespace delayq::api
