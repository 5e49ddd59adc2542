#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/defaults.h"
#include "common/result.h"
#include "common/stoppable_thread.h"
#include "delivery/sink.h"

namespace delayq::store {
class RedisClient;
}

namespace delayq::delivery {

struct RedisStreamSinkConfig {
  std::string url;     // redis://[[user]:password@]host[:port][/db]; may be the store's Redis
  int64_t maxlen = 0;  // XADD MAXLEN ~ this; 0: streams are not trimmed
  int connect_timeout_ms = static_cast<int>(defaults::kRedisConnectTimeoutMs);
  int command_timeout_ms = static_cast<int>(defaults::kRedisCommandTimeoutMs);
};

// Appends due tasks to Redis Streams with XADD: fields payload plus the SinkHeaders. A Send
// succeeds when Redis answered the XADD with an entry id. One thread sends what is queued as
// one pipeline and reconnects (every second) while Redis cannot be reached; meanwhile sends
// fail at once, so that their tasks wait in the retry policy, not here.
class RedisStreamSink final : public Sink {
 public:
  // Errors name the configuration key ("sinks.redis_stream.url: ...").
  static Result<std::unique_ptr<RedisStreamSink>> Create(const RedisStreamSinkConfig& config);
  ~RedisStreamSink() override;

  void Send(const Task& task, const SinkSpec& spec, std::function<void(SinkOutcome)> done) override;
  std::string Problem() const override;
  void Flush(int64_t timeout_ms) override;

 private:
  struct Item {
    std::vector<std::string> args;  // the XADD command
    std::function<void(SinkOutcome)> done;
  };
  explicit RedisStreamSink(RedisStreamSinkConfig config);
  void Run();
  // Connects when there is no connection (at most once per reconnect interval), else checks
  // the one there is while idle.
  void KeepConnected(bool idle, std::chrono::steady_clock::time_point& next_connect);
  std::vector<SinkOutcome> Append(std::vector<Item>& batch);
  void SetProblem(std::string problem);

  const RedisStreamSinkConfig config_;
  std::unique_ptr<store::RedisClient> client_;  // worker thread only
  // Its mutex guards queue_, sending_ and problem_.
  StoppableThread worker_;
  std::condition_variable drained_;
  std::deque<Item> queue_;
  size_t sending_ = 0;  // taken from the queue, outcome not reported yet
  std::string problem_;
};

}  // namespace delayq::delivery
