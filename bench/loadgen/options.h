#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace loadgen {

// A scenario's `--name value` flags.
class Options {
 public:
  // Accepts only names in `known`, so a typo fails loudly instead of silently benchmarking the
  // default.
  Options(int argc, char** argv, const std::set<std::string>& known);

  std::string String(const std::string& name, std::optional<std::string> fallback = {}) const;
  int64_t Integer(const std::string& name, std::optional<int64_t> fallback = {}) const;

 private:
  std::map<std::string, std::string> values_;
};

boost::asio::ip::tcp::endpoint ParseEndpoint(const std::string& addr);

// "HOST:PORT[,HOST:PORT...]": closed-loop runs spread their connections over several servers
// (the redis-mode section drives 2-3 instances from one client process, as redis-benchmark is
// one process).
std::vector<boost::asio::ip::tcp::endpoint> ParseEndpoints(const std::string& addrs);

// The first of a list of addresses: the Host header.
std::string FirstAddr(const std::string& addrs);

}  // namespace loadgen
