#include "delivery/registry.h"

#include <arpa/inet.h>

#include <charconv>

namespace delayq::delivery {
namespace {

// "10.0.0.0/8" or "127.0.0.1" against an IPv4 literal host.
bool MatchesIpv4(const std::string& rule, const std::string& host) {
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) != 1) return false;
  std::string network = rule;
  unsigned bits = 32;
  if (size_t slash = rule.find('/'); slash != std::string::npos) {
    network = rule.substr(0, slash);
    auto [end, ec] = std::from_chars(rule.data() + slash + 1, rule.data() + rule.size(), bits);
    if (ec != std::errc() || bits > 32) return false;
  }
  in_addr net{};
  if (inet_pton(AF_INET, network.c_str(), &net) != 1) return false;
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (ntohl(address.s_addr) & mask) == (ntohl(net.s_addr) & mask);
}

}  // namespace

Registry::Registry(std::map<std::string, std::vector<std::string>> services,
                   std::vector<std::string> allow_hosts, int64_t default_timeout_ms)
    : services_(MakeServices(std::move(services))),
      allow_hosts_(std::move(allow_hosts)),
      default_timeout_ms_(default_timeout_ms) {
  for (auto& rule : allow_hosts_) {
    for (char& c : rule) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
}

std::shared_ptr<const Registry::Services> Registry::MakeServices(
    std::map<std::string, std::vector<std::string>> services) {
  auto table = std::make_shared<Services>();
  for (auto& [name, urls] : services) {
    Service service;
    for (auto& url : urls) {
      while (!url.empty() && url.back() == '/') url.pop_back();  // path supplies the slash
      service.base_urls.push_back(url);
    }
    table->emplace(name, std::move(service));
  }
  return table;
}

void Registry::ReplaceServices(std::map<std::string, std::vector<std::string>> services) {
  services_.Store(MakeServices(std::move(services)));
}

bool Registry::HostAllowed(const std::string& host) const {
  if (allow_hosts_.empty()) return true;
  for (const std::string& rule : allow_hosts_) {
    if (rule == host) return true;
    if (rule.rfind("*.", 0) == 0 && host.size() > rule.size() - 1 &&
        host.compare(host.size() - (rule.size() - 1), rule.size() - 1, rule, 1) == 0) {
      return true;
    }
    if (MatchesIpv4(rule, host)) return true;
  }
  return false;
}

Result<void> Registry::Check(const CallbackSpec& spec, std::string_view field) const {
  std::string name(field);
  if (spec.timeout_ms > default_timeout_ms_) {
    // The delivery lease is derived from callbacks.timeout: a longer call could outlive it.
    // `field` names the url or service ("tasks[2].callback.url"): report its timeout_ms.
    std::string base = name.substr(0, std::min(name.size(), name.rfind('.')));
    return Fail(Errc::kInvalidArgument, base + ".timeout_ms " + std::to_string(spec.timeout_ms) +
                                            " exceeds callbacks.timeout (" +
                                            std::to_string(default_timeout_ms_) + " ms)");
  }
  if (!spec.service.empty()) {
    if (!services_.Load()->contains(spec.service)) {
      return Fail(Errc::kInvalidArgument, name + ": '" + spec.service +
                                              "' is not a known service (configure it under "
                                              "services)");
    }
    return {};  // operators configure service URLs; they are trusted
  }
  auto url = ParseHttpUrl(spec.url, name);
  if (!url) return std::unexpected(url.error());
  if (!HostAllowed(url->host)) {
    return Fail(Errc::kInvalidArgument,
                name + ": host '" + url->host + "' is not in callbacks.allow_hosts");
  }
  return {};
}

Result<CallbackTarget> Registry::Resolve(const CallbackSpec& spec) {
  CallbackTarget target;
  target.method = spec.method;
  target.headers = spec.headers;
  target.timeout_ms = spec.timeout_ms != 0 ? spec.timeout_ms : default_timeout_ms_;
  if (spec.service.empty()) {
    target.url = spec.url;
    return target;
  }
  std::shared_ptr<const Services> services = services_.Load();
  auto it = services->find(spec.service);
  if (it == services->end() || it->second.base_urls.empty()) {
    return Fail(Errc::kNotFound, "service '" + spec.service + "' is no longer configured");
  }
  const Service& service = it->second;
  uint64_t n = service.next->fetch_add(1, std::memory_order_relaxed);
  target.url = service.base_urls[n % service.base_urls.size()] + spec.path;
  return target;
}

}  // namespace delayq::delivery
