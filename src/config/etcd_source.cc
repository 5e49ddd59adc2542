#include "config/etcd_source.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>

namespace delayq::config {

namespace json = boost::json;

// A range answer above this is refused: the prefix holds a table of services and topics,
// and a runaway prefix (a wrong etcd.prefix such as "/") must not exhaust memory.
constexpr size_t kMaxRangeBytes = 16 << 20;

// --- Encoding -------------------------------------------------------------------------------

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                 static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int v = Sextet(c);
    if (v < 0) return Fail(Errc::kInvalidArgument, "invalid base64 in an etcd answer");
    bits = bits << 6 | static_cast<uint32_t>(v);
    if (++count == 4) {
      out += static_cast<char>(bits >> 16);
      out += static_cast<char>((bits >> 8) & 0xff);
      out += static_cast<char>(bits & 0xff);
      bits = 0;
      count = 0;
    }
  }
  if (count == 1) return Fail(Errc::kInvalidArgument, "invalid base64 in an etcd answer");
  if (count == 2) out += static_cast<char>(bits >> 4);
  if (count == 3) {
    out += static_cast<char>(bits >> 10);
    out += static_cast<char>((bits >> 2) & 0xff);
  }
  return out;
}

std::string PrefixRangeEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto last = static_cast<unsigned char>(prefix.back());
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // etcd: "\0" as range_end means every key >= key
}

// --- Reading --------------------------------------------------------------------------------

EtcdSource::EtcdSource(Options options) : options_(std::move(options)) {}

EtcdSource::~EtcdSource() { Stop(); }

namespace {

size_t Collect(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > kMaxRangeBytes) return 0;  // aborts the transfer
  body->append(data, size * count);
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// One POST of `request` to `url`; the answer's body, or why there is none.
Result<std::string> PostJson(const std::string& url, const std::string& request,
                             int64_t timeout_ms) {
  std::unique_ptr<CURL, CurlDeleter> easy(curl_easy_init());
  if (!easy) return Fail(Errc::kInternal, "curl_easy_init failed");
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  std::string body;
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, request.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts in a threaded process
  curl_easy_setopt(e, CURLOPT_PROXY, "");     // etcd is addressed directly, as callbacks are
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  CURLcode code = curl_easy_perform(e);
  if (code != CURLE_OK) {
    return Fail(Errc::kUnavailable, url + ": " + curl_easy_strerror(code));
  }
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    return Fail(Errc::kUnavailable,
                url + ": HTTP " + std::to_string(status) + ": " + body.substr(0, 200));
  }
  return body;
}

}  // namespace

Result<EtcdSource::RawEntries> EtcdSource::Read() {
  json::object request;
  request["key"] = Base64Encode(options_.prefix);
  request["range_end"] = Base64Encode(PrefixRangeEnd(options_.prefix));
  std::string text = json::serialize(request);
  std::string errors;
  for (const std::string& endpoint : options_.endpoints) {
    std::string base = endpoint;
    while (!base.empty() && base.back() == '/') base.pop_back();
    auto answer = PostJson(base + "/v3/kv/range", text, options_.timeout_ms);
    if (!answer) {
      errors += (errors.empty() ? "" : "; ") + answer.error().message;
      continue;
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(*answer, ec);
    if (ec || !parsed.is_object()) {
      errors += (errors.empty() ? "" : "; ") + base + ": answer is not a JSON object";
      continue;
    }
    RawEntries entries;
    // "kvs" is left out of the answer when the prefix holds no key.
    if (const json::value* kvs = parsed.as_object().if_contains("kvs")) {
      if (!kvs->is_array()) return Fail(Errc::kUnavailable, base + ": kvs is not a list");
      for (const json::value& kv : kvs->get_array()) {
        const json::object* object = kv.if_object();
        const json::value* key = object ? object->if_contains("key") : nullptr;
        if (key == nullptr || !key->is_string()) {
          return Fail(Errc::kUnavailable, base + ": a kvs entry has no key");
        }
        auto name = Base64Decode(key->get_string());
        if (!name) return std::unexpected(name.error());
        std::string value;
        // An empty value is left out too.
        if (const json::value* v = object->if_contains("value"); v && v->is_string()) {
          auto decoded = Base64Decode(v->get_string());
          if (!decoded) return std::unexpected(decoded.error());
          value = std::move(*decoded);
        }
        entries[std::move(*name)] = std::move(value);
      }
    }
    return entries;
  }
  return Fail(Errc::kUnavailable,
              "cannot read etcd prefix '" + options_.prefix + "' from any endpoint: " + errors);
}

Result<Dynamic> EtcdSource::Parse(const RawEntries& entries) const {
  Dynamic dynamic;
  for (const auto& [key, value] : entries) {
    std::string_view rest = std::string_view(key).substr(options_.prefix.size());
    std::string source = "etcd key " + key;
    size_t slash = rest.find('/');
    std::string_view kind = rest.substr(0, slash);
    std::string name(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
    if (name.empty() || name.find('/') != std::string::npos ||
        (kind != "services" && kind != "topics")) {
      // Unknown keys are refused, not skipped: a typo ("service/...") would otherwise
      // silently leave a service unconfigured.
      return Fail(Errc::kInvalidArgument, source + ": expected " + options_.prefix +
                                              "services/<name> or " + options_.prefix +
                                              "topics/<name>");
    }
    auto ok = kind == "services" ? ApplyServiceValue(dynamic, name, value, source)
                                 : ApplyTopicValue(dynamic, name, value, source);
    if (!ok) return std::unexpected(ok.error());
  }
  return dynamic;
}

Result<Dynamic> EtcdSource::Load() {
  auto entries = Read();
  if (!entries) return std::unexpected(entries.error());
  auto dynamic = Parse(*entries);
  if (dynamic) last_seen_ = std::move(*entries);
  return dynamic;
}

// --- Following changes ----------------------------------------------------------------------

void EtcdSource::Start(Apply apply) {
  apply_ = std::move(apply);
  thread_.Start([this] { Poll(); });
}

void EtcdSource::Stop() { thread_.Stop(); }

void EtcdSource::Poll() {
  while (thread_.SleepFor(std::chrono::milliseconds(options_.poll_interval_ms))) PollOnce();
}

void EtcdSource::PollOnce() {
  auto entries = Read();
  if (!entries) {
    // The last good configuration stays in force; log the outage once, not every poll.
    if (!unreachable_) {
      spdlog::warn(
          "msg=\"config centre unreachable; keeping the last configuration\" "
          "error=\"{}\"",
          entries.error().message);
    }
    unreachable_ = true;
  } else {
    if (unreachable_) spdlog::info("msg=\"config centre reachable again\"");
    unreachable_ = false;
    if (*entries != last_seen_) {
      // Remembered even when refused, so that a bad value is reported once per change.
      last_seen_ = *entries;
      auto dynamic = Parse(*entries);
      Result<void> applied = dynamic ? apply_(*dynamic) : std::unexpected(dynamic.error());
      if (applied) {
        spdlog::info("msg=\"config centre change applied\" services={} topics={}",
                     dynamic->services.size(), dynamic->topics.size());
      } else {
        spdlog::error(
            "msg=\"config centre change refused; keeping the last configuration\" "
            "error=\"{}\"",
            applied.error().message);
      }
    }
  }
}

}  // namespace delayq::config
