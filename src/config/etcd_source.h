#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/stoppable_thread.h"
#include "config/config.h"

namespace delayq::config {

// Reads `services` and `topics` from an etcd key prefix and follows their changes (the
// config centre: several instances share one configuration that changes without restarts). Layout
// under the prefix (docs/CONFIG.md, "Config centre"):
//   <prefix>services/<name>  a base URL, or a JSON/YAML list of base URLs
//   <prefix>topics/<name>    a JSON/YAML mapping {max_attempts, rate_limit, max_in_flight,
//                            callback}
// Talks to etcd's v3 JSON gateway (POST /v3/kv/range) with libcurl rather than gRPC: Debian
// ships no gRPC C++ build of the etcd API, libcurl is already linked for callbacks, and one
// range read is all that is needed.
//
// Changes are found by polling: every poll_interval the whole prefix is read and compared
// with the last snapshot. A range read per second is cheap for a table of services and
// topics, needs no reconnect or compaction handling (a gateway watch is a long-lived stream
// that does), and it also notices deletions.
class EtcdSource {
 public:
  struct Options {
    std::vector<std::string> endpoints;  // "http://host:port"; tried in order
    std::string prefix;
    int64_t poll_interval_ms = 1'000;
    int64_t timeout_ms = 2'000;  // per request
  };
  // Called on the polling thread with every new valid snapshot; an error keeps the
  // previous configuration in force (and is logged with the message).
  using Apply = std::function<Result<void>(const Dynamic&)>;

  explicit EtcdSource(Options options);
  ~EtcdSource();
  EtcdSource(const EtcdSource&) = delete;
  EtcdSource& operator=(const EtcdSource&) = delete;

  // One read of the prefix, parsed and checked. kUnavailable when no endpoint answered;
  // kInvalidArgument (naming the etcd key) when a value is bad.
  Result<Dynamic> Load();

  // Starts the polling thread; changes are measured against the last Load().
  void Start(Apply apply);
  void Stop();

 private:
  using RawEntries = std::map<std::string, std::string>;  // key -> value
  Result<RawEntries> Read();
  Result<Dynamic> Parse(const RawEntries& entries) const;
  void Poll();
  void PollOnce();

  const Options options_;
  Apply apply_;
  RawEntries last_seen_;  // polling thread only (after Start)
  bool unreachable_ = false;
  StoppableThread thread_;
};

// etcd's key encoding in the JSON gateway (exposed for unit tests).
std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);
// The end of the key range holding every key that starts with `prefix` (etcd's convention:
// the prefix with its last byte incremented).
std::string PrefixRangeEnd(std::string prefix);

}  // namespace delayq::config
