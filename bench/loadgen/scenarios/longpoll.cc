// v1 long poll: a pull waits on an empty topic while another connection adds one task with a
// short delay; how late after the task's due time the pull is answered.

#include <algorithm>
#include <boost/asio.hpp>
#include <optional>
#include <stdexcept>

#include "../clock.h"
#include "../http_connection.h"
#include "../json_scan.h"
#include "../ledger.h"
#include "../report.h"
#include "../scenarios.h"
#include "../v1.h"

namespace loadgen {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

// One round: a pull waits (wait_ms) on a topic with nothing in it while another connection adds
// one task with delay_ms; the pull should be answered the moment that task falls due.
struct LongPollRound {
  std::optional<PulledTask> pulled;
  int64_t received_us = 0;
  uint64_t added_id = 0;
  int64_t added_due_ms = 0;
  std::string error;
};

awaitable<void> LongPollWait(HttpConnection& connection, std::string request,
                             LongPollRound& round) {
  try {
    HttpResponse response = co_await connection.RoundTrip(request);
    round.received_us = WallClockMicros();
    auto tasks = response.status == 200 ? ParsePulledTasks(response.body) : std::nullopt;
    if (!tasks) {
      throw std::runtime_error("pull: HTTP " + std::to_string(response.status) + ": " +
                               response.body.substr(0, 300));
    }
    if (tasks->size() > 1) throw std::runtime_error("pull: more tasks than were added");
    if (tasks->empty()) throw std::runtime_error("pull: wait_ms ran out with no task");
    round.pulled = tasks->front();
  } catch (const std::exception& e) {
    if (round.error.empty()) round.error = Describe(e);
  }
}

awaitable<void> LongPollAdd(HttpConnection& connection, std::string request, LongPollRound& round) {
  try {
    HttpResponse response = co_await connection.RoundTrip(request);
    auto id = RawField(response.body, "id");
    auto due = IntegerField(response.body, "due_at_ms");
    std::optional<uint64_t> parsed_id = id ? ParsePositiveDecimal(*id) : std::nullopt;
    if (response.status != 201 || !parsed_id || !due) {
      throw std::runtime_error("add: HTTP " + std::to_string(response.status) + ": " +
                               response.body.substr(0, 300));
    }
    round.added_id = *parsed_id;
    round.added_due_ms = *due;
  } catch (const std::exception& e) {
    if (round.error.empty()) round.error = Describe(e);
  }
}

// Acks the pulled task, so the topic ends clean; not part of the measurement.
bool Ack(asio::io_context& io, HttpConnection& consumer, const std::string& addr,
         const PulledTask& task) {
  io.restart();
  int status = 0;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        try {
          status = (co_await consumer.RoundTrip(AckRequest(addr, task))).status;
        } catch (const std::exception&) {
          status = -1;
        }
      },
      asio::detached);
  io.run();
  return status == 200;
}

}  // namespace

int RunLongPoll(const Options& options) {
  std::string addr = options.String("addr");
  tcp::endpoint endpoint = ParseEndpoint(addr);
  int64_t rounds = options.Integer("rounds", 200);
  int64_t delay_ms = options.Integer("delay-ms", 200);
  int64_t wait_ms = options.Integer("wait-ms", 10'000);
  std::string topic_prefix =
      options.String("topic", "bench_longpoll_" + std::to_string(WallClockMicros()));
  if (rounds < 1 || delay_ms < 0 || wait_ms <= delay_ms) {
    throw std::invalid_argument("--rounds must be >= 1 and --wait-ms above --delay-ms");
  }

  asio::io_context io(1);
  HttpConnection consumer(io.get_executor(), endpoint);
  HttpConnection producer(io.get_executor(), endpoint);
  Ledger ledger;
  ErrorTally errors;
  uint64_t ack_errors = 0;
  for (int64_t r = 0; r < rounds; ++r) {
    // A fresh topic per round: nothing left over from an earlier round can answer the pull.
    std::string topic = topic_prefix + "_" + std::to_string(r);
    std::string pull =
        PostRequest("/v1/topics/" + topic + "/pull", addr,
                    "{\"max\":1,\"wait_ms\":" + std::to_string(wait_ms) + ",\"lease_ms\":60000}");
    std::string add =
        PostRequest("/v1/topics/" + topic + "/tasks", addr,
                    "{\"payload\":\"lp\",\"delay_ms\":" + std::to_string(delay_ms) + "}");
    LongPollRound round;
    io.restart();
    // The pull is sent first; the add follows at once, on its own connection. The task is due
    // delay_ms after the add, long after the pull is waiting.
    asio::co_spawn(io, LongPollWait(consumer, pull, round), asio::detached);
    asio::co_spawn(io, LongPollAdd(producer, add, round), asio::detached);
    io.run();
    if (!round.error.empty()) {
      errors.Note(round.error);
      continue;
    }
    if (round.pulled->id != round.added_id || round.pulled->due_at_ms != round.added_due_ms) {
      errors.Note("pulled task " + std::to_string(round.pulled->id) + " due " +
                  std::to_string(round.pulled->due_at_ms) + ", added " +
                  std::to_string(round.added_id) + " due " + std::to_string(round.added_due_ms));
      continue;
    }
    ledger.Add(round.added_id);
    ledger.Receive(round.pulled->id, round.received_us, round.pulled->due_at_ms * 1000);
    if (!Ack(io, consumer, addr, *round.pulled)) ++ack_errors;
  }
  Report report("longpoll");
  report.Set("rounds", rounds)
      .Set("delay_ms", delay_ms)
      .Set("wait_ms", wait_ms)
      .Set("received", ledger.received())
      .Errors("errors", "failed rounds", errors)
      .Set("ack_errors", ack_errors)
      .Set("early", ledger.early());
  ledger.WriteLateness(report);
  report.Set("note", "lateness = wall time the pull answer was read - due_at_ms of the task");
  return report
      .Require(ledger.received() == static_cast<uint64_t>(rounds) && errors.count == 0 &&
               ack_errors == 0 && ledger.early() == 0)
      .Print();
}

}  // namespace loadgen
