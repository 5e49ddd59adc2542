#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/snapshot.h"
#include "delivery/callback_spec.h"

namespace delayq::delivery {

// A resolved call: where to send it and how long to wait.
struct CallbackTarget {
  std::string url;
  std::string method;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timeout_ms = 0;
};

// The service registry (config `services`: name -> base URLs, used round-robin) and the
// callback host allow-list (config `callbacks.allow_hosts`: host names, "*.suffix"
// wildcards, IPv4 addresses or CIDR blocks; empty allows every host). Thread-safe; the
// services can be replaced while calls resolve (the config centre, config/etcd_source.h).
class Registry {
 public:
  // `default_timeout_ms` (callbacks.timeout) is also the longest timeout a task may ask for.
  Registry(std::map<std::string, std::vector<std::string>> services,
           std::vector<std::string> allow_hosts, int64_t default_timeout_ms);

  // Add-time check: the service exists, the URL is http(s) and its host is allowed.
  // Messages name `field`.
  Result<void> Check(const CallbackSpec& spec, std::string_view field) const;

  // Picks the base URL (round-robin over a service's list) and fills in defaults.
  Result<CallbackTarget> Resolve(const CallbackSpec& spec);

  bool HostAllowed(const std::string& host) const;

  // Swaps in a new service table; calls resolved from now on use it. Tasks naming a
  // service that is gone fail with "no longer configured" (retried, then dead).
  void ReplaceServices(std::map<std::string, std::vector<std::string>> services);

 private:
  struct Service {
    std::vector<std::string> base_urls;
    std::unique_ptr<std::atomic<uint64_t>> next = std::make_unique<std::atomic<uint64_t>>(0);
  };
  using Services = std::map<std::string, Service>;
  static std::shared_ptr<const Services> MakeServices(
      std::map<std::string, std::vector<std::string>> services);
  // Immutable snapshots: a reader keeps the one it loaded for the whole call.
  Snapshot<Services> services_;
  std::vector<std::string> allow_hosts_;
  const int64_t default_timeout_ms_;
};

}  // namespace delayq::delivery
