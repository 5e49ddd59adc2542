#include "support/delivery_ledger.h"

#include <algorithm>
#include <boost/json.hpp>

#include "support/server_process.h"
#include "support/test_util.h"

namespace delayq::testing {
namespace {

namespace json = boost::json;

json::value Parse(const std::string& text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  return ec ? json::value() : value;
}

}  // namespace

void DeliveryLedger::Add(HttpClient& client, const std::string& topic, const std::string& content) {
  auto response =
      client.Post("/delay/task/add",
                  R"({"topic":")" + topic + R"(","timing_moment":1,"content":")" + content + "\"}");
  json::value body = Parse(response.body);
  std::lock_guard lock(mu_);
  if (response.status == 200 && body.is_object() && body.at("dm_error").as_int64() == 0) {
    acknowledged_.insert(content);
    last_ok_ms_[topic] = WallClockMs();
  } else if (response.status == 503 && body.is_object()) {
    std::string message(body.at("error_msg").as_string());
    (message.rfind("outcome unknown", 0) == 0 ? unknown_ : refused_).insert(content);
    last_message_ = message;
  } else {
    ++other_;
  }
}

int DeliveryLedger::Consume(HttpClient& client, const std::string& topic) {
  auto response = client.Post("/v1/topics/" + topic + "/pull", R"({"max":20,"lease_ms":2000})");
  json::value body = Parse(response.body);
  if (response.status != 200 || !body.is_object()) return 0;
  int taken = 0;
  for (const json::value& task : body.at("tasks").as_array()) {
    ++taken;
    {
      std::lock_guard lock(mu_);
      if (!delivered_.insert(std::string(task.at("payload").as_string())).second) ++twice_;
    }
    auto ack = client.Post("/v1/tasks/" + std::string(task.at("id").as_string()) + "/ack",
                           R"({"lease":")" + std::string(task.at("lease").as_string()) + "\"}");
    if (ack.status != 200) ++failed_acks_;
  }
  return taken;
}

bool DeliveryLedger::Drain(HttpClient& client, const std::vector<std::string>& topics,
                           std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        for (const std::string& topic : topics) {
          while (Consume(client, topic) > 0) {
          }
        }
        std::lock_guard lock(mu_);
        return std::includes(delivered_.begin(), delivered_.end(), acknowledged_.begin(),
                             acknowledged_.end());
      },
      timeout);
}

void DeliveryLedger::StartLoad(const std::string& address, std::vector<std::string> topics,
                               const std::string& prefix) {
  threads_.emplace_back([this, address, topics, prefix] {
    HttpClient client(address, std::chrono::seconds(30));
    for (size_t n = 0; !stop_ && n < 500'000; ++n) {
      Add(client, topics[n % topics.size()], prefix + std::to_string(n));
    }
  });
  threads_.emplace_back([this, address, topics] {
    HttpClient client(address, std::chrono::seconds(30));
    for (size_t n = 0; !stop_; ++n) {
      if (Consume(client, topics[n % topics.size()]) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // idle: poll again soon
      }
    }
  });
}

void DeliveryLedger::StopLoad() {
  stop_ = true;
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  stop_ = false;
}

size_t DeliveryLedger::acknowledged() {
  std::lock_guard lock(mu_);
  return acknowledged_.size();
}

int64_t DeliveryLedger::last_ok_ms(const std::string& topic) {
  std::lock_guard lock(mu_);
  if (topic.empty()) {
    int64_t last = 0;
    for (const auto& [name, ms] : last_ok_ms_) last = std::max(last, ms);
    return last;
  }
  auto it = last_ok_ms_.find(topic);
  return it == last_ok_ms_.end() ? 0 : it->second;
}

std::string DeliveryLedger::last_message() {
  std::lock_guard lock(mu_);
  return last_message_;
}

size_t DeliveryLedger::Lost() {
  std::lock_guard lock(mu_);
  size_t lost = 0;
  for (const auto& content : acknowledged_) lost += delivered_.count(content) == 0;
  return lost;
}

size_t DeliveryLedger::RefusedDelivered() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& content : refused_) n += delivered_.count(content);
  return n;
}

size_t DeliveryLedger::UnknownDelivered() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& content : unknown_) n += delivered_.count(content);
  return n;
}

std::string DeliveryLedger::Summary() {
  size_t unknown_delivered = UnknownDelivered();
  std::lock_guard lock(mu_);
  return "acknowledged " + std::to_string(acknowledged_.size()) + ", refused " +
         std::to_string(refused_.size()) + ", outcome unknown " + std::to_string(unknown_.size()) +
         " (delivered " + std::to_string(unknown_delivered) + "), delivered twice " +
         std::to_string(twice_.load()) + " (acks failed " + std::to_string(failed_acks_.load()) +
         ")";
}

}  // namespace delayq::testing
