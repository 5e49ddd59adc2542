#include "delivery/callback_spec.h"

#include <boost/json.hpp>
#include <charconv>

namespace delayq::delivery {

namespace json = boost::json;

namespace {

constexpr int64_t kMinTimeoutMs = 100;
constexpr int64_t kMaxTimeoutMs = 60'000;
constexpr size_t kMaxHeaders = 32;
constexpr size_t kMaxUrlBytes = 2048;

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsSafeHeaderValue(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace

Result<ParsedUrl> ParseHttpUrl(std::string_view url, std::string_view field) {
  std::string name(field);
  auto bad = [&](std::string why) {
    return Fail(Errc::kInvalidArgument, name + " '" + std::string(url.substr(0, 200)) + "' " + why);
  };
  if (url.size() > kMaxUrlBytes) return bad("is longer than 2048 bytes");
  ParsedUrl out;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad("is not an absolute http(s) URL");
  out.scheme = std::string(url.substr(0, scheme_end));
  for (char& c : out.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out.scheme != "http" && out.scheme != "https") {
    return bad("has scheme '" + out.scheme + "'; only http and https are allowed");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos) return bad("must not contain user info");
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed IPv6 address");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("has garbage after the IPv6 address");
      port = authority.substr(close + 2);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("has no host");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '_')) {
      return bad("has an invalid host");
    }
  }
  out.host = std::string(host);
  for (char& c : out.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out.port = out.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("has an invalid port");
    }
    out.port = static_cast<uint16_t>(value);
  }
  out.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (out.target.front() != '/') out.target.insert(0, "/");
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad("contains spaces or control characters");
  }
  return out;
}

std::string EncodeCallbackSpec(const CallbackSpec& spec) {
  json::object out;
  if (!spec.url.empty()) out["url"] = spec.url;
  if (!spec.service.empty()) out["service"] = spec.service;
  if (!spec.path.empty()) out["path"] = spec.path;
  if (spec.method != "POST") out["method"] = spec.method;
  if (!spec.headers.empty()) {
    json::object headers;
    for (const auto& [name, value] : spec.headers) headers[name] = value;
    out["headers"] = std::move(headers);
  }
  if (spec.timeout_ms != 0) out["timeout_ms"] = spec.timeout_ms;
  return json::serialize(out);
}

namespace {

// url, or service and path (defaulting to "/"); the method, upper-cased.
Result<void> CheckTarget(CallbackSpec& spec, const std::string& name) {
  if (!spec.url.empty() && (!spec.service.empty() || !spec.path.empty())) {
    return Fail(Errc::kInvalidArgument, name + ": give either url, or service and path, not both");
  }
  if (spec.url.empty() && spec.service.empty()) {
    return Fail(Errc::kInvalidArgument, name + " needs url, or service and path");
  }
  if (!spec.url.empty()) {
    if (auto ok = ParseHttpUrl(spec.url, name + ".url"); !ok) return std::unexpected(ok.error());
  } else {
    if (spec.path.empty()) spec.path = "/";
    if (spec.path.front() != '/') {
      return Fail(Errc::kInvalidArgument, name + ".path must start with /");
    }
  }
  for (char& c : spec.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (spec.method != "POST" && spec.method != "PUT" && spec.method != "PATCH" &&
      spec.method != "GET" && spec.method != "DELETE") {
    return Fail(Errc::kInvalidArgument, name + ".method must be POST, PUT, PATCH, GET or DELETE");
  }
  return {};
}

// `headers`: at most kMaxHeaders, each a token name with a one-line string value, none of
// those delayq sets itself.
Result<void> ParseHeaders(const json::value& headers, const std::string& name, CallbackSpec& spec) {
  if (!headers.is_object()) {
    return Fail(Errc::kInvalidArgument, name + ".headers must be an object of strings");
  }
  if (headers.get_object().size() > kMaxHeaders) {
    return Fail(Errc::kInvalidArgument, name + ".headers has more than 32 entries");
  }
  for (const auto& header : headers.get_object()) {
    std::string key(header.key());
    bool token = !key.empty();
    for (char c : key) token = token && IsTokenChar(c);
    if (!token) {
      return Fail(Errc::kInvalidArgument,
                  name + ".headers has an invalid header name '" + key.substr(0, 64) + "'");
    }
    if (!header.value().is_string() || !IsSafeHeaderValue(header.value().get_string())) {
      return Fail(Errc::kInvalidArgument,
                  name + ".headers." + key + " must be a string without line breaks");
    }
    std::string lower = key;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind("x-delayq-", 0) == 0 || lower == "host" || lower == "content-length" ||
        lower == "transfer-encoding" || lower == "connection") {
      return Fail(Errc::kInvalidArgument,
                  name + ".headers." + key + " is set by delayq and cannot be given");
    }
    spec.headers.emplace_back(key, std::string(header.value().get_string()));
  }
  return {};
}

// The string fields url, service, path, method (absent or null: left empty), and no field
// the spec does not know.
Result<void> ParseFields(const json::object& object, const std::string& name, CallbackSpec& spec) {
  auto string_field = [&](std::string_view key, std::string* out) -> Result<void> {
    const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr || v->is_null()) return {};
    if (!v->is_string()) {
      return Fail(Errc::kInvalidArgument, name + "." + std::string(key) + " must be a string");
    }
    *out = std::string(v->get_string());
    return {};
  };
  for (auto [key, out] : {std::pair<std::string_view, std::string*>{"url", &spec.url},
                          {"service", &spec.service},
                          {"path", &spec.path},
                          {"method", &spec.method}}) {
    if (auto ok = string_field(key, out); !ok) return std::unexpected(ok.error());
  }
  for (const auto& item : object) {
    std::string_view key = item.key();
    if (key != "url" && key != "service" && key != "path" && key != "method" && key != "headers" &&
        key != "timeout_ms") {
      return Fail(Errc::kInvalidArgument,
                  name + " has an unknown field '" + std::string(key) +
                      "' (url, service, path, method, headers, timeout_ms)");
    }
  }
  return {};
}

}  // namespace

Result<CallbackSpec> ParseCallbackObject(std::string_view text, std::string_view field) {
  std::string name(field);
  boost::system::error_code ec;
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !value.is_object()) {
    return Fail(Errc::kInvalidArgument, name + " must be an object with url, or service and path");
  }
  const json::object& object = value.get_object();
  CallbackSpec spec;
  if (auto ok = ParseFields(object, name, spec); !ok) return std::unexpected(ok.error());
  if (auto ok = CheckTarget(spec, name); !ok) return std::unexpected(ok.error());
  if (const json::value* headers = object.if_contains("headers");
      headers != nullptr && !headers->is_null()) {
    if (auto ok = ParseHeaders(*headers, name, spec); !ok) return std::unexpected(ok.error());
  }
  if (const json::value* timeout = object.if_contains("timeout_ms");
      timeout != nullptr && !timeout->is_null()) {
    if (!timeout->is_int64() || timeout->get_int64() < kMinTimeoutMs ||
        timeout->get_int64() > kMaxTimeoutMs) {
      return Fail(Errc::kInvalidArgument,
                  name + ".timeout_ms must be an integer from 100 to 60000");
    }
    spec.timeout_ms = timeout->get_int64();
  }
  return spec;
}

Result<CallbackSpec> DecodeCallbackSpec(std::string_view text) {
  return ParseCallbackObject(text, "callback");
}

}  // namespace delayq::delivery
