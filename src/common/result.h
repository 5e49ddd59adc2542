#pragma once

#include <expected>
#include <string>

#include "common/errc.h"

namespace delayq {

// Errors are values: every fallible operation returns Result<T>.
template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> Fail(Errc code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace delayq
