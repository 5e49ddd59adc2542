#include "delivery/http_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <unordered_set>

#include "common/stoppable_thread.h"

namespace delayq::delivery {
namespace {

// Keep this much of an error answer's body for last_error.
constexpr size_t kBodyPrefixBytes = 256;

struct Transfer {
  HttpCall call;
  HttpClient::Done done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body_prefix;
  char error[CURL_ERROR_SIZE] = {0};
};

size_t KeepPrefix(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (transfer->body_prefix.size() < kBodyPrefixBytes) {
    transfer->body_prefix.append(data,
                                 std::min(n, kBodyPrefixBytes - transfer->body_prefix.size()));
  }
  return n;  // read and drop the rest: the connection stays reusable
}

}  // namespace

struct HttpClient::Impl {
  CURLM* multi = nullptr;
  StoppableThread thread;  // its mutex guards inbox; it sleeps in curl_multi_poll
  std::vector<std::unique_ptr<Transfer>> inbox;
  std::unordered_set<CURL*> active;  // client thread only

  void Begin(std::unique_ptr<Transfer> transfer) {
    CURL* easy = curl_easy_init();
    Transfer* t = transfer.get();
    t->easy = easy;
    curl_easy_setopt(easy, CURLOPT_URL, t->call.url.c_str());
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, t->call.method.c_str());
    if (t->call.method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->call.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(t->call.body.size()));
    }
    for (const auto& [name, value] : t->call.headers) {
      t->headers = curl_slist_append(t->headers, (name + ": " + value).c_str());
    }
    // No "Expect: 100-continue" round trip for bodies over 1 KiB.
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(t->call.timeout_ms));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t->call.timeout_ms));
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    // Only web targets, and no redirects: a receiver cannot bounce us elsewhere.
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, KeepPrefix);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "delayq");
    // One call per connection at a time (max_per_host then bounds calls in flight), and no
    // proxy taken from *_proxy variables: callbacks go where the task says.
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_multi_add_handle(multi, easy);
    active.insert(easy);
    transfer.release();  // owned by the multi handle until it completes
  }

  void Finish(CURL* easy, CURLcode code) {
    Transfer* raw = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
    std::unique_ptr<Transfer> t(raw);
    HttpOutcome outcome;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      outcome.status = static_cast<int>(status);
      outcome.body_prefix = std::move(t->body_prefix);
    } else {
      outcome.error = t->error[0] != '\0' ? t->error : curl_easy_strerror(code);
    }
    curl_multi_remove_handle(multi, easy);
    active.erase(easy);
    curl_slist_free_all(t->headers);
    curl_easy_cleanup(easy);
    t->done(std::move(outcome));
  }

  void Run() {
    while (!thread.stopping()) {
      std::vector<std::unique_ptr<Transfer>> incoming;
      {
        std::lock_guard lock(thread.mutex());
        incoming.swap(inbox);
      }
      for (auto& transfer : incoming) Begin(std::move(transfer));
      int running = 0;
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
        if (message->msg == CURLMSG_DONE) Finish(message->easy_handle, message->data.result);
      }
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);  // Send() wakes it early
    }
    // Abandon what is left: answer every call so that the engine's slots are released.
    std::vector<CURL*> left(active.begin(), active.end());
    for (CURL* easy : left) Finish(easy, CURLE_ABORTED_BY_CALLBACK);
    std::vector<std::unique_ptr<Transfer>> unsent;
    {
      std::lock_guard lock(thread.mutex());
      unsent.swap(inbox);
    }
    for (auto& t : unsent) t->done(HttpOutcome{0, "delayq is shutting down", ""});
  }
};

HttpClient::HttpClient(size_t max_per_host, size_t max_connections)
    : impl_(std::make_unique<Impl>()) {
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)global;
  impl_->multi = curl_multi_init();
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(max_per_host));
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, static_cast<long>(max_connections));
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(max_connections));
}

HttpClient::~HttpClient() {
  Stop();
  curl_multi_cleanup(impl_->multi);
}

void HttpClient::Start() {
  impl_->thread.Start([impl = impl_.get()] { impl->Run(); });
}

void HttpClient::Stop() {
  if (!impl_->thread.RequestStop()) return;
  curl_multi_wakeup(impl_->multi);
  impl_->thread.Join();
}

void HttpClient::Send(HttpCall call, Done done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->call = std::move(call);
  transfer->done = std::move(done);
  {
    std::lock_guard lock(impl_->thread.mutex());
    if (!impl_->thread.stopping()) {
      impl_->inbox.push_back(std::move(transfer));
    }
  }
  if (transfer) {
    transfer->done(HttpOutcome{0, "delayq is shutting down", ""});
    return;
  }
  curl_multi_wakeup(impl_->multi);
}

}  // namespace delayq::delivery
