#include "options.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <stdexcept>

namespace loadgen {

Options::Options(int argc, char** argv, const std::set<std::string>& known) {
  for (int i = 2; i < argc; ++i) {
    std::string name = argv[i];
    if (!name.starts_with("--") || !known.contains(name.substr(2))) {
      throw std::invalid_argument("unknown option " + name);
    }
    if (i + 1 >= argc) throw std::invalid_argument("option " + name + " needs a value");
    values_[name.substr(2)] = argv[++i];
  }
}

std::string Options::String(const std::string& name, std::optional<std::string> fallback) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  if (fallback) return *fallback;
  throw std::invalid_argument("missing --" + name);
}

int64_t Options::Integer(const std::string& name, std::optional<int64_t> fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    if (fallback) return *fallback;
    throw std::invalid_argument("missing --" + name);
  }
  size_t used = 0;
  int64_t value = std::stoll(it->second, &used);
  if (used != it->second.size()) throw std::invalid_argument("--" + name + " must be a number");
  return value;
}

boost::asio::ip::tcp::endpoint ParseEndpoint(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--addr must be HOST:PORT");
  return {boost::asio::ip::make_address(addr.substr(0, colon)),
          static_cast<uint16_t>(std::stoi(addr.substr(colon + 1)))};
}

std::vector<boost::asio::ip::tcp::endpoint> ParseEndpoints(const std::string& addrs) {
  std::vector<boost::asio::ip::tcp::endpoint> out;
  for (size_t start = 0; start <= addrs.size();) {
    size_t comma = std::min(addrs.find(',', start), addrs.size());
    out.push_back(ParseEndpoint(addrs.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

std::string FirstAddr(const std::string& addrs) { return addrs.substr(0, addrs.find(',')); }

}  // namespace loadgen
