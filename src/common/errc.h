#pragma once

#include <string>

namespace delayq {

// Error categories. The API layer maps each to an HTTP status and a seed `dm_error`
// code in one place (api/errors.cc); the rest of the code only picks a category.
enum class Errc {
  kInvalidArgument,  // a field is missing or malformed; the message names it
  kTooLarge,         // body or payload over its limit
  kNotFound,
  kNotDue,    // the task exists but is not due yet (seed pull by id)
  kConflict,  // the task is in a state that forbids the operation
  kMethodNotAllowed,
  kUnauthorized,  // no or unknown credentials
  kForbidden,     // known credentials without the right for this topic or action
  kOverloaded,    // bounded queue full; the client should retry later
  kUnavailable,   // storage cannot be reached or refused a write; nothing was written
  // A write was sent to storage and no answer came (the connection died, a timeout, too few
  // replicas confirmed it): it may or may not be stored. Messages start "outcome unknown".
  kOutcomeUnknown,
  kInternal,
};

struct Error {
  Errc code;
  std::string message;
};

}  // namespace delayq
