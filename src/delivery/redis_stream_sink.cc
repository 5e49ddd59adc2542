#include "delivery/redis_stream_sink.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "store/redis_client.h"

namespace delayq::delivery {

namespace {

// Commands sent as one pipeline: a round trip per batch rather than per task.
constexpr size_t kMaxBatch = 512;
// While Redis cannot be reached, connect again (and check the connection) this often.
constexpr auto kReconnectInterval = std::chrono::seconds(1);

}  // namespace

RedisStreamSink::RedisStreamSink(RedisStreamSinkConfig config) : config_(std::move(config)) {}

Result<std::unique_ptr<RedisStreamSink>> RedisStreamSink::Create(
    const RedisStreamSinkConfig& config) {
  auto url = store::ParseRedisUrl(config.url);
  if (!url) {
    return Fail(Errc::kInvalidArgument, "sinks.redis_stream.url: " + url.error().message);
  }
  if (config.maxlen < 0) {
    return Fail(Errc::kInvalidArgument, "sinks.redis_stream.maxlen must be 0 (no trim) or more");
  }
  std::unique_ptr<RedisStreamSink> sink(new RedisStreamSink(config));
  sink->problem_ = "not connected yet";
  sink->worker_.Start([s = sink.get()] { s->Run(); });
  return sink;
}

RedisStreamSink::~RedisStreamSink() { worker_.Stop(); }

void RedisStreamSink::Send(const Task& task, const SinkSpec& spec,
                           std::function<void(SinkOutcome)> done) {
  Item item;
  item.args = {"XADD", spec.destination};
  if (config_.maxlen > 0) {
    item.args.insert(item.args.end(), {"MAXLEN", "~", std::to_string(config_.maxlen)});
  }
  item.args.insert(item.args.end(), {"*", "payload", task.payload});
  for (auto& [name, value] : SinkHeaders(task)) {
    item.args.push_back(std::move(name));
    item.args.push_back(std::move(value));
  }
  item.done = std::move(done);
  {
    std::lock_guard lock(worker_.mutex());
    if (!worker_.stopping()) {
      queue_.push_back(std::move(item));
      worker_.condition().notify_one();
      return;
    }
  }
  item.done(SinkOutcome{"redis stream sink stopped"});
}

void RedisStreamSink::SetProblem(std::string problem) {
  std::lock_guard lock(worker_.mutex());
  if (problem_ != problem) {
    if (problem.empty()) {
      spdlog::info("msg=\"redis stream sink connected\"");
    } else {
      spdlog::warn("msg=\"redis stream sink unavailable\" error=\"{}\"", problem);
    }
    problem_ = std::move(problem);
  }
}

std::string RedisStreamSink::Problem() const {
  std::lock_guard lock(worker_.mutex());
  return problem_;
}

void RedisStreamSink::Flush(int64_t timeout_ms) {
  std::unique_lock lock(worker_.mutex());
  drained_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return queue_.empty() && sending_ == 0; });
}

void RedisStreamSink::Run() {
  auto next_connect = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<Item> batch;
    {
      std::unique_lock lock(worker_.mutex());
      worker_.WaitFor(lock, kReconnectInterval, [&] { return !queue_.empty(); });
      // At a stop, what is still queued is failed below rather than sent.
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      sending_ = batch.size();
      if (worker_.stopping() && batch.empty()) return;
    }
    if (!worker_.stopping()) KeepConnected(batch.empty(), next_connect);
    if (!batch.empty()) {
      std::vector<SinkOutcome> outcomes = Append(batch);
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(outcomes[i]));
    }
    {
      std::lock_guard lock(worker_.mutex());
      sending_ = 0;
      if (queue_.empty()) drained_.notify_all();
    }
  }
}

void RedisStreamSink::KeepConnected(bool idle,
                                    std::chrono::steady_clock::time_point& next_connect) {
  if (client_ == nullptr && std::chrono::steady_clock::now() >= next_connect) {
    auto url = store::ParseRedisUrl(config_.url);  // checked by Create
    store::RedisClientOptions options;
    options.connect_timeout_ms = config_.connect_timeout_ms;
    options.command_timeout_ms = config_.command_timeout_ms;
    auto client = store::RedisClient::Connect(*url, options);
    if (client) {
      client_ = std::move(*client);
      SetProblem("");
    } else {
      SetProblem("cannot reach sinks.redis_stream.url: " + client.error().message);
      next_connect = std::chrono::steady_clock::now() + kReconnectInterval;
    }
  } else if (client_ != nullptr && idle) {
    SetProblem(client_->Healthy() ? "" : "redis stream server does not answer");
  }
}

// One pipeline of XADDs; an outcome per item.
std::vector<SinkOutcome> RedisStreamSink::Append(std::vector<Item>& batch) {
  std::vector<SinkOutcome> outcomes(batch.size());
  if (worker_.stopping()) {
    for (auto& o : outcomes) o.error = "redis stream sink stopped";
    return outcomes;
  }
  if (client_ == nullptr) {
    std::string why = Problem();
    for (auto& o : outcomes) o.error = why;
    return outcomes;
  }
  std::vector<store::RedisCommand> commands(batch.size());
  std::vector<const store::RedisCommand*> pointers;
  for (size_t i = 0; i < batch.size(); ++i) {
    commands[i].args = std::move(batch[i].args);
    commands[i].route_key = commands[i].args[1];
    pointers.push_back(&commands[i]);
  }
  auto replies = client_->PipelineEach(pointers);
  bool any_ok = false;
  std::string last_failure;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!replies[i]) {
      outcomes[i].error = "redis stream " + commands[i].args[1] + ": " + replies[i].error().message;
      last_failure = replies[i].error().message;
    } else if (replies[i]->IsError()) {
      outcomes[i].error = "redis stream " + commands[i].args[1] + ": " + replies[i]->str;
    } else {
      any_ok = true;
    }
  }
  if (any_ok) {
    SetProblem("");
  } else if (!last_failure.empty()) {
    SetProblem("redis stream server: " + last_failure);
  }
  return outcomes;
}

}  // namespace delayq::delivery
