#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace delayq {

// An immutable value that one thread may replace while others read it (tables the config
// centre swaps at run time). A reader takes the current snapshot and keeps it as long as it
// needs it; a replacement never changes a snapshot already taken. Thread-safe.
//
// A mutex around a shared_ptr rather than std::atomic<std::shared_ptr>: libstdc++ 12's
// atomic shared_ptr ends a load by releasing its internal lock bit with a relaxed
// fetch_sub, so the reader's read of the pointer is not ordered before the next store's
// write of it. Harmless on x86, but a data race by the C++ memory model, and ThreadSanitizer
// reports every swap under load. The lock is held only to copy or swap the pointer; the old
// value is released outside it.
template <typename T>
class Snapshot {
 public:
  explicit Snapshot(std::shared_ptr<const T> value) : value_(std::move(value)) {}

  std::shared_ptr<const T> Load() const {
    std::lock_guard lock(mu_);
    return value_;
  }

  void Store(std::shared_ptr<const T> value) {
    {
      std::lock_guard lock(mu_);
      value_.swap(value);
    }
    // `value` now holds the previous snapshot, freed here (or by its last reader).
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
};

}  // namespace delayq
