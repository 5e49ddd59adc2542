// Crash-test driver: N rounds (DELAYQ_CRASH_ROUNDS, default 5) of mixed load against the real
// binary on one data directory, each ended by a SIGKILL at a random moment (0.3-2 s in),
// followed by a restart and a check of the ledger the driver keeps:
//
//   1. every acknowledged add (201/200, seed dm_error 0) is still there (GET 200);
//   2. every task whose ack got 200 stays done and is never delivered again;
//   3. every cancel that got 200 stays cancelled and never fires;
//   4. after the last round a drain consumes everything: every acknowledged, not-cancelled
//      task is delivered at least once (nothing lost);
//   5. duplicate deliveries (same id twice, by pull or by callback) are counted per round
//      with the reason that makes them legal (lease expiry, callback in flight at a kill,
//      ack lost by the kill). A duplicate without such a reason fails the test.
//
// An add, ack or cancel whose answer was lost because of the kill is ambiguous; it is settled
// afterwards (re-adding with the same dedup_key, reading the task, or seeing its payload
// delivered), never counted as lost. DELAYQ_CRASH_SEED fixes the random choices (the kill
// moments and the mix; thread timing still varies). `make soak` runs 50 rounds.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/integration.h"

namespace delayq {
namespace {

using namespace integration;
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kPullTopic = "crash.pull";
const std::string kCallbackTopic = "crash.cb";
const std::string kCallbackPath = "/cb";
constexpr int kLeaseMs = 1000;
constexpr int kMaxAttempts = 100;  // no task dies of redeliveries in a run
constexpr double kUnackedShare = 0.05;
constexpr int kVerifyThreads = 4;
constexpr auto kDrainLimit = seconds(60);

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A logical clock shared by every driver thread: "request sent after answer received" is
// decided on it, never on wall-clock milliseconds.
std::atomic<uint64_t> g_clock{0};
uint64_t Tick() { return g_clock.fetch_add(1) + 1; }

json::value ParseBody(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec ? json::value() : v;
}

std::string StringField(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const json::value* field = v.as_object().if_contains(key);
  if (!field) return "";
  return field->is_string() ? std::string(field->as_string()) : json::serialize(*field);
}

uint64_t IdField(const json::value& v, std::string_view key) {
  std::string s = StringField(v, key);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoull(s);
}

// Every add carries a unique tag: the payload itself (v1, seed pull tasks) or the "tag"
// member of the seed callback content. A delivery's body or payload gives it back.
std::string TagOf(const std::string& text) {
  if (!text.empty() && text.front() == '{') {
    std::string tag = StringField(ParseBody(text), "tag");
    if (!tag.empty()) return tag;
  }
  return text;
}

bool Chance(std::mt19937_64& rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

int64_t Uniform(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

enum class AckResult { kNone, kOk, kConflict, kLost, kRefused };

struct Delivery {
  int epoch = 0;  // server run: epoch e is the load of round e+1; epoch N is the drain
  bool callback = false;
  int64_t attempt = 0;
  uint64_t sent_seq = 0;  // pull: logical time the pull request was sent
  int64_t at_ms = 0;      // callback: when the receiver read it; pull: when the answer came
  bool unacked_on_purpose = false;
  AckResult ack = AckResult::kNone;
  int ack_status = 0;
  bool lost_ack_settled = false;
  bool lost_ack_applied = false;
};

struct Task {
  uint64_t id = 0;
  bool callback = false;
  std::string api;  // "v1" or "seed"
  std::string tag;
  std::string dedup_key;
  int round_added = 0;
  bool acknowledged = false;  // the add got 201/200 (seed: dm_error 0)
  bool settled_add = false;   // an ambiguous add found stored afterwards
  bool unexpected = false;    // delivered, but no add of ours explains it
  bool provisional = false;   // delivered before its add's answer was recorded
  int64_t due_at_ms = 0;
  bool cancelled = false;  // DELETE answered 200 (or an unanswered one found applied)
  uint64_t cancel_seq = 0;
  int64_t cancel_ms = 0;
  bool cancel_pending = false;  // DELETE sent, no answer (kill)
  int cancel_pending_epoch = 0;
  bool acked = false;  // ack answered 200 (or an unanswered one found applied)
  uint64_t acked_seq = 0;
  bool seen_done = false;  // a GET showed done
  uint64_t done_seq = 0;
  int64_t done_ms = 0;
  std::string last_state;
  std::vector<Delivery> deliveries;

  bool MustBeDelivered() const { return (acknowledged || settled_add) && !cancelled; }
};

struct AmbiguousAdd {
  enum Outcome { kPending, kStored, kNotStored };
  std::string tag;
  std::string topic;
  bool callback = false;
  std::string api;
  std::string dedup_key;
  std::string path;
  std::string request;
  int epoch = 0;
  Outcome outcome = kPending;
  uint64_t id = 0;
};

struct RoundStats {
  double load_s = 0, restart_s = 0, verify_s = 0;
  int adds_v1_pull = 0, adds_v1_callback = 0, adds_seed_pull = 0, adds_seed_callback = 0;
  int dedup_hits = 0, adds_refused = 0, ambiguous_adds = 0;
  int pull_deliveries = 0, callback_deliveries = 0, pulls_refused = 0;
  int acks_ok = 0, acks_conflict = 0, acks_lost = 0, acks_refused = 0, unacked = 0;
  int cancels_ok = 0, cancels_conflict = 0, cancels_lost = 0;
  // settled at the verification after this round's kill
  int lost_acks_applied = 0, lost_acks_not_applied = 0;
  int lost_cancels_applied = 0, lost_cancels_not_applied = 0;
  int readds_stored = 0, readds_not_stored = 0;
  int checked = 0;
  std::map<std::string, int> duplicates;  // reason -> count, attributed to this round
  int hidden_deliveries = 0;              // attempt numbers skipped: answers lost at a kill
  int AddsAcked() const {
    return adds_v1_pull + adds_v1_callback + adds_seed_pull + adds_seed_callback;
  }
};

struct Observation {
  uint64_t id = 0;
  int status = 0;
  std::string state;
  std::string tag;
  uint64_t seq = 0;  // logical time the answer was received
  int64_t ms = 0;
};

class CrashDriver {
 public:
  CrashDriver(int rounds, uint64_t seed) : rounds_(rounds), seed_(seed) {
    stats_.resize(rounds + 1);
    kill_seq_.resize(rounds + 1, 0);
    kill_ms_.resize(rounds + 1, 0);
  }

  void Run();

 private:
  // --- server lifetime ---
  bool StartServer();
  std::mt19937_64 Rng(int epoch, int stream) const {
    std::seed_seq seq{seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(stream)};
    return std::mt19937_64(seq);
  }

  // --- load threads ---
  void V1Adder(int epoch, int t, const std::atomic<bool>& stop);
  void SeedAdder(int epoch, const std::atomic<bool>& stop);
  void Consumer(int epoch, int t, bool drain, const std::atomic<bool>& stop);
  void Canceller(int epoch, const std::atomic<bool>& stop);

  // --- ledger updates (each takes mu_) ---
  void OnAdded(int epoch, uint64_t id, const std::string& tag, const std::string& topic,
               bool callback, const std::string& api, const std::string& key, int64_t due,
               bool duplicate);
  void OnAmbiguousAdd(AmbiguousAdd add);
  size_t OnDelivery(int epoch, uint64_t id, bool callback, int64_t attempt, const std::string& tag,
                    uint64_t sent_seq, int64_t at_ms);
  Task& TaskForDelivery(int epoch, uint64_t id, bool callback, const std::string& tag);
  void ResolveProvisional(int round);
  std::string RandomDedupKey(const std::string& topic, std::mt19937_64& rng);
  uint64_t PickCancelCandidate(std::mt19937_64& rng);

  // --- checks ---
  void IngestCallbacks();
  int EpochAt(int64_t ms) const;
  void SettleDedupAdds(int epoch);
  std::vector<Observation> ReadAll();
  void ApplyObservations(int epoch, const std::vector<Observation>& observations);
  void CheckDeliveries();
  bool DrainComplete(HttpClient& client);
  void FinalChecks();
  void AnalyseDuplicates();
  void Violation(int round, const std::string& what);
  void Lost(int round, const Task& task, const std::string& what);
  std::string Describe(const Task& task) const;
  void PrintRound(int round) const;
  void PrintSummary(double total_s);

  const int rounds_;
  const uint64_t seed_;
  TempDir dir_;
  CallbackReceiver receiver_;
  std::unique_ptr<ServerProcess> server_;
  std::string address_;

  std::mutex mu_;  // guards everything below
  std::map<uint64_t, Task> tasks_;
  std::map<std::string, uint64_t> dedup_;  // topic + "/" + key -> id
  std::vector<AmbiguousAdd> ambiguous_;
  std::map<std::string, size_t> ambiguous_by_tag_;
  std::map<std::string, size_t> ambiguous_by_key_;
  std::map<std::string, uint64_t> id_by_tag_;
  std::map<std::string, std::vector<std::string>> keys_by_topic_;
  std::vector<uint64_t> cancel_candidates_;
  std::vector<RoundStats> stats_;  // by epoch
  std::vector<int64_t> epoch_start_ms_;
  std::vector<uint64_t> kill_seq_;
  std::vector<int64_t> kill_ms_;
  std::set<std::string> violations_;
  std::set<uint64_t> lost_;  // ids of acknowledged tasks found lost
  size_t ingested_calls_ = 0;
};

void CrashDriver::Violation(int round, const std::string& what) {
  std::string message = "seed=" + std::to_string(seed_) + " " +
                        (round > rounds_ ? "drain" : "round=" + std::to_string(round)) + ": " +
                        what;
  if (violations_.insert(message).second) std::cout << "[crash] VIOLATION " << message << "\n";
}

void CrashDriver::Lost(int round, const Task& task, const std::string& what) {
  lost_.insert(task.id);
  Violation(round, "LOST task " + std::to_string(task.id) + " (" + Describe(task) + "): " + what);
}

std::string CrashDriver::Describe(const Task& t) const {
  std::ostringstream out;
  out << (t.callback ? "callback" : "pull") << " via " << t.api << ", added in round "
      << t.round_added << ", tag " << t.tag << ", due_at_ms " << t.due_at_ms;
  if (!t.dedup_key.empty()) out << ", dedup_key " << t.dedup_key;
  out << ", deliveries " << t.deliveries.size();
  for (const auto& d : t.deliveries) {
    out << " [epoch " << d.epoch << " attempt " << d.attempt;
    if (!d.callback) out << " ack " << static_cast<int>(d.ack) << "/" << d.ack_status;
    out << "]";
  }
  if (t.acked) out << ", acked";
  if (t.cancelled) out << ", cancelled";
  out << ", last state " << (t.last_state.empty() ? "-" : t.last_state);
  return out.str();
}

bool CrashDriver::StartServer() {
  {
    std::lock_guard lock(mu_);
    epoch_start_ms_.push_back(WallClockMs());  // a new server run (epoch) begins
  }
  if (!server_->Start(seconds(30))) return false;
  address_ = server_->address();
  return true;
}

int CrashDriver::EpochAt(int64_t ms) const {
  int epoch = 0;
  for (size_t e = 0; e < epoch_start_ms_.size(); ++e) {
    if (epoch_start_ms_[e] <= ms) epoch = static_cast<int>(e);
  }
  return epoch;
}

// ---------------------------------------------------------------------------------------------
// Ledger updates

void CrashDriver::OnAdded(int epoch, uint64_t id, const std::string& tag, const std::string& topic,
                          bool callback, const std::string& api, const std::string& key,
                          int64_t due, bool duplicate) {
  std::lock_guard lock(mu_);
  RoundStats& s = stats_[epoch];
  int round = epoch + 1;
  std::string full_key = key.empty() ? "" : topic + "/" + key;
  auto held = full_key.empty() ? dedup_.end() : dedup_.find(full_key);
  if (duplicate) {  // 200: the key is held by an existing task
    ++s.dedup_hits;
    if (held != dedup_.end()) {
      if (held->second != id) {
        Violation(round, "dedup_key " + key + " answered id " + std::to_string(id) +
                             " but is held by " + std::to_string(held->second));
      }
      return;
    }
    if (auto a = ambiguous_by_key_.find(full_key); a != ambiguous_by_key_.end()) {
      AmbiguousAdd& amb = ambiguous_[a->second];
      if (amb.outcome == AmbiguousAdd::kStored && amb.id == id) return;  // seen delivered
      if (amb.outcome == AmbiguousAdd::kPending) {
        amb.outcome = AmbiguousAdd::kStored;
        amb.id = id;
        ++stats_[amb.epoch].readds_stored;
        Task& t = tasks_[id];
        t.provisional = false;
        t.id = id;
        t.callback = amb.callback;
        t.api = amb.api;
        t.tag = amb.tag;
        t.dedup_key = amb.dedup_key;
        t.round_added = amb.epoch + 1;
        t.settled_add = true;
        t.due_at_ms = due;
        dedup_[full_key] = id;
        id_by_tag_[amb.tag] = id;
        return;
      }
    }
    // A 200 for a key of ours that we never saw acknowledged: the client library re-sent
    // the request after a timeout and the first copy had been stored. Same tag, same task.
  }
  if (!duplicate && held != dedup_.end()) {
    Violation(round, "add with dedup_key " + key + " answered 201 (new id " + std::to_string(id) +
                         ") although the key is held by " + std::to_string(held->second));
  }
  if (!full_key.empty()) {
    if (auto a = ambiguous_by_key_.find(full_key); a != ambiguous_by_key_.end()) {
      AmbiguousAdd& amb = ambiguous_[a->second];
      if (amb.outcome == AmbiguousAdd::kPending) {
        amb.outcome = AmbiguousAdd::kNotStored;  // it would hold the key otherwise
        ++stats_[amb.epoch].readds_not_stored;
      }
    }
  }
  Task& t = tasks_[id];
  if (t.id != 0 && !t.provisional) {
    Violation(round, "add answered id " + std::to_string(id) + ", which is task " + Describe(t));
    return;
  }
  if (t.provisional && t.tag != tag) {
    Violation(round, "add of tag " + tag + " answered id " + std::to_string(id) +
                         ", which was delivered with tag " + t.tag);
  }
  t.provisional = false;
  t.id = id;
  t.callback = callback;
  t.api = api;
  t.tag = tag;
  t.dedup_key = key;
  t.round_added = round;
  t.acknowledged = true;
  t.due_at_ms = due;
  if (!full_key.empty()) {
    dedup_[full_key] = id;
    keys_by_topic_[topic].push_back(key);
  }
  id_by_tag_[tag] = id;
  if (api == "v1") {
    ++(callback ? s.adds_v1_callback : s.adds_v1_pull);
  } else {
    ++(callback ? s.adds_seed_callback : s.adds_seed_pull);
  }
  if (due > WallClockMs() + 300) cancel_candidates_.push_back(id);
}

void CrashDriver::OnAmbiguousAdd(AmbiguousAdd add) {
  std::lock_guard lock(mu_);
  ++stats_[add.epoch].ambiguous_adds;
  if (!add.dedup_key.empty() && dedup_.contains(add.topic + "/" + add.dedup_key)) {
    add.outcome = AmbiguousAdd::kNotStored;  // a held key: it cannot have made a task
    add.dedup_key.clear();
  }
  size_t index = ambiguous_.size();
  ambiguous_by_tag_[add.tag] = index;
  if (!add.dedup_key.empty()) ambiguous_by_key_[add.topic + "/" + add.dedup_key] = index;
  ambiguous_.push_back(std::move(add));
}

std::string CrashDriver::RandomDedupKey(const std::string& topic, std::mt19937_64& rng) {
  std::lock_guard lock(mu_);
  auto it = keys_by_topic_.find(topic);
  if (it == keys_by_topic_.end() || it->second.empty()) return "";
  return it->second[Uniform(rng, 0, static_cast<int64_t>(it->second.size()) - 1)];
}

// The ledger entry a delivery belongs to. A consumer can take a task before the thread that
// added it has recorded the answer, so an unknown id is held provisionally and resolved by
// the add's answer or, after the kill, by ResolveProvisional(). Caller holds mu_.
Task& CrashDriver::TaskForDelivery(int epoch, uint64_t id, bool callback, const std::string& tag) {
  Task& t = tasks_[id];
  if (t.id == 0) {
    t.id = id;
    t.callback = callback;
    t.tag = tag;
    t.api = "?";
    t.round_added = epoch + 1;
    t.provisional = true;
  } else if (t.tag != tag) {
    Violation(epoch + 1, "task " + std::to_string(id) + " delivered with tag " + tag +
                             " but was added with tag " + t.tag);
  }
  return t;
}

// Deliveries of ids that no answered add explains: an unanswered add of the same tag was
// stored after all; otherwise the task came from nowhere. Caller holds mu_.
void CrashDriver::ResolveProvisional(int round) {
  for (auto& [id, t] : tasks_) {
    if (!t.provisional) continue;
    t.provisional = false;
    auto a = ambiguous_by_tag_.find(t.tag);
    if (a != ambiguous_by_tag_.end()) {
      AmbiguousAdd& amb = ambiguous_[a->second];
      t.api = amb.api;
      t.dedup_key = amb.dedup_key;
      t.round_added = amb.epoch + 1;
      t.settled_add = true;
      if (amb.outcome == AmbiguousAdd::kPending) {
        amb.outcome = AmbiguousAdd::kStored;
        amb.id = id;
        id_by_tag_[t.tag] = id;
        if (!amb.dedup_key.empty()) dedup_[amb.topic + "/" + amb.dedup_key] = id;
      } else if (amb.outcome == AmbiguousAdd::kNotStored) {
        Violation(round, "unanswered add (tag " + t.tag + ", dedup_key " + amb.dedup_key +
                             ") was stored as task " + std::to_string(id) +
                             ", but re-adding with the same dedup_key created another task");
      } else if (amb.id != id) {
        Violation(round, "unanswered add (tag " + t.tag + ") stored twice: tasks " +
                             std::to_string(amb.id) + " and " + std::to_string(id));
      }
      continue;
    }
    t.unexpected = true;
    auto known = id_by_tag_.find(t.tag);
    Violation(round,
              "delivered task " + std::to_string(id) + " (tag " + t.tag + ") was never added" +
                  (known != id_by_tag_.end()
                       ? "; its tag belongs to acknowledged task " + std::to_string(known->second)
                       : ""));
  }
}

size_t CrashDriver::OnDelivery(int epoch, uint64_t id, bool callback, int64_t attempt,
                               const std::string& tag, uint64_t sent_seq, int64_t at_ms) {
  // Caller holds mu_.
  Task& t = TaskForDelivery(epoch, id, callback, tag);
  Delivery d;
  d.epoch = epoch;
  d.callback = callback;
  d.attempt = attempt;
  d.sent_seq = sent_seq;
  d.at_ms = at_ms;
  t.deliveries.push_back(d);
  ++(callback ? stats_[epoch].callback_deliveries : stats_[epoch].pull_deliveries);
  return t.deliveries.size() - 1;
}

uint64_t CrashDriver::PickCancelCandidate(std::mt19937_64& rng) {
  std::lock_guard lock(mu_);
  int64_t now = WallClockMs();
  for (int tries = 0; tries < 16 && !cancel_candidates_.empty(); ++tries) {
    size_t i = Uniform(rng, 0, static_cast<int64_t>(cancel_candidates_.size()) - 1);
    uint64_t id = cancel_candidates_[i];
    const Task& t = tasks_[id];
    bool eligible =
        !t.cancelled && !t.cancel_pending && t.deliveries.empty() && t.due_at_ms > now + 150;
    cancel_candidates_[i] = cancel_candidates_.back();
    cancel_candidates_.pop_back();
    if (eligible) return id;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Load

void CrashDriver::V1Adder(int epoch, int t, const std::atomic<bool>& stop) {
  HttpClient client(address_, seconds(10));
  std::mt19937_64 rng = Rng(epoch, 10 + t);
  for (int n = 0; !stop; ++n) {
    bool callback = Chance(rng, 0.3);
    const std::string& topic = callback ? kCallbackTopic : kPullTopic;
    std::string tag =
        "v" + std::to_string(epoch + 1) + "-" + std::to_string(t) + "-" + std::to_string(n);
    json::object body;
    body["payload"] = tag;
    body["max_attempts"] = kMaxAttempts;
    if (!Chance(rng, 0.4)) body["delay_ms"] = Uniform(rng, 200, 3000);  // else due now
    if (callback) body["callback"] = json::object{{"url", receiver_.base_url() + kCallbackPath}};
    std::string key;
    if (Chance(rng, 0.25)) {
      if (Chance(rng, 0.2)) key = RandomDedupKey(topic, rng);  // a held key: expect 200
      if (key.empty()) key = "k-" + tag;
      body["dedup_key"] = key;
    }
    std::string path = "/v1/topics/" + topic + "/tasks";
    std::string request = json::serialize(body);
    HttpResponse r = client.Post(path, request);
    if (!r.ok()) {  // the kill: stored or not, we cannot tell yet
      OnAmbiguousAdd({tag, topic, callback, "v1", key, path, request, epoch});
      return;
    }
    json::value v = ParseBody(r.body);
    if (r.status == 201 || r.status == 200) {
      OnAdded(epoch, IdField(v, "id"), tag, topic, callback, "v1", key,
              v.at("due_at_ms").to_number<int64_t>(), r.status == 200);
    } else {
      std::lock_guard lock(mu_);
      ++stats_[epoch].adds_refused;
      if (r.status != 429 && r.status != 503) {
        Violation(epoch + 1, "v1 add answered " + std::to_string(r.status) + ": " + r.body);
      }
    }
    if (Chance(rng, 0.5)) std::this_thread::sleep_for(milliseconds(Uniform(rng, 0, 2)));
  }
}

void CrashDriver::SeedAdder(int epoch, const std::atomic<bool>& stop) {
  HttpClient client(address_, seconds(10));
  std::mt19937_64 rng = Rng(epoch, 20);
  for (int n = 0; !stop; ++n) {
    bool callback = Chance(rng, 0.2);
    const std::string& topic = callback ? kCallbackTopic : kPullTopic;
    std::string tag = "s" + std::to_string(epoch + 1) + "-" + std::to_string(n);
    // Seed v2: content with an absolute url makes a callback task; its body is the content.
    std::string content = callback
                              ? json::serialize(json::object{
                                    {"url", receiver_.base_url() + kCallbackPath}, {"tag", tag}})
                              : tag;
    int64_t moment = WallClockMs() / 1000 + (Chance(rng, 0.5) ? 0 : Uniform(rng, 1, 3));
    json::object body{{"topic", topic}, {"timing_moment", moment}, {"content", content}};
    std::string request = json::serialize(body);
    HttpResponse r = client.Post("/delay/task/add", request);
    if (!r.ok()) {
      OnAmbiguousAdd({tag, topic, callback, "seed", "", "/delay/task/add", request, epoch});
      return;
    }
    json::value v = ParseBody(r.body);
    if (r.status == 200 && v.is_object() && v.at("dm_error").to_number<int64_t>() == 0) {
      OnAdded(epoch, v.at("task_id").to_number<uint64_t>(), tag, topic, callback, "seed", "",
              moment * 1000, false);
    } else {
      std::lock_guard lock(mu_);
      ++stats_[epoch].adds_refused;
      if (r.status != 429 && r.status != 503) {
        Violation(epoch + 1, "seed add answered " + std::to_string(r.status) + ": " + r.body);
      }
    }
    if (Chance(rng, 0.5)) std::this_thread::sleep_for(milliseconds(Uniform(rng, 0, 2)));
  }
}

void CrashDriver::Consumer(int epoch, int t, bool drain, const std::atomic<bool>& stop) {
  HttpClient client(address_, seconds(10));
  std::mt19937_64 rng = Rng(epoch, 30 + t);
  const std::string pull = R"({"max":8,"wait_ms":200,"lease_ms":)" + std::to_string(kLeaseMs) + "}";
  while (!stop) {
    uint64_t sent = Tick();
    HttpResponse r = client.Post("/v1/topics/" + kPullTopic + "/pull", pull);
    if (!r.ok()) return;  // the kill
    json::value v = ParseBody(r.body);
    if (r.status != 200 || !v.is_object()) {
      std::lock_guard lock(mu_);
      ++stats_[epoch].pulls_refused;
      if (r.status != 429 && r.status != 503) {
        Violation(epoch + 1, "pull answered " + std::to_string(r.status) + ": " + r.body);
      }
      std::this_thread::sleep_for(milliseconds(10));
      continue;
    }
    int64_t received_ms = WallClockMs();
    struct Taken {
      uint64_t id;
      std::string lease;
      size_t index;
    };
    std::vector<Taken> taken;
    {
      std::lock_guard lock(mu_);
      for (const auto& task : v.at("tasks").as_array()) {
        uint64_t id = IdField(task, "id");
        size_t index = OnDelivery(epoch, id, false, task.at("attempt").to_number<int64_t>(),
                                  TagOf(StringField(task, "payload")), sent, received_ms);
        taken.push_back({id, StringField(task, "lease"), index});
      }
    }
    for (const Taken& task : taken) {
      if (!drain && Chance(rng, kUnackedShare)) {  // left to its lease
        std::lock_guard lock(mu_);
        tasks_[task.id].deliveries[task.index].unacked_on_purpose = true;
        ++stats_[epoch].unacked;
        continue;
      }
      HttpResponse a = client.Post("/v1/tasks/" + std::to_string(task.id) + "/ack",
                                   json::serialize(json::object{{"lease", task.lease}}));
      uint64_t answered = Tick();
      std::lock_guard lock(mu_);
      Task& ledger = tasks_[task.id];
      Delivery& d = ledger.deliveries[task.index];
      d.ack_status = a.status;
      RoundStats& s = stats_[epoch];
      if (a.status == 200) {
        d.ack = AckResult::kOk;
        ++s.acks_ok;
        if (ledger.acked) {
          Violation(epoch + 1, "task " + std::to_string(task.id) + " acked twice with 200");
        }
        ledger.acked = true;
        ledger.acked_seq = answered;
        if (StringField(ParseBody(a.body), "state") != "done") {
          Violation(epoch + 1, "ack of " + std::to_string(task.id) + " answered " + a.body);
        }
      } else if (a.status == 409) {
        d.ack = AckResult::kConflict;  // the lease ran out first; it will come again
        ++s.acks_conflict;
      } else if (a.status == 0) {
        d.ack = AckResult::kLost;  // the kill: applied or not, settled after the restart
        ++s.acks_lost;
        return;
      } else {
        d.ack = AckResult::kRefused;
        ++s.acks_refused;
        if (a.status != 429 && a.status != 503) {
          Violation(epoch + 1, "ack of " + std::to_string(task.id) + " answered " +
                                   std::to_string(a.status) + ": " + a.body);
        }
      }
    }
  }
}

void CrashDriver::Canceller(int epoch, const std::atomic<bool>& stop) {
  HttpClient client(address_, seconds(10));
  std::mt19937_64 rng = Rng(epoch, 40);
  while (!stop) {
    uint64_t id = PickCancelCandidate(rng);
    if (id == 0) {
      std::this_thread::sleep_for(milliseconds(5));
      continue;
    }
    HttpResponse r = client.Request("DELETE", "/v1/tasks/" + std::to_string(id));
    uint64_t answered = Tick();
    int64_t answered_ms = WallClockMs();
    {
      std::lock_guard lock(mu_);
      Task& t = tasks_[id];
      RoundStats& s = stats_[epoch];
      if (!r.ok()) {
        t.cancel_pending = true;
        t.cancel_pending_epoch = epoch;
        ++s.cancels_lost;
        return;
      }
      if (r.status == 200) {
        ++s.cancels_ok;
        t.cancelled = true;
        t.cancel_seq = answered;
        t.cancel_ms = answered_ms;
        if (StringField(ParseBody(r.body), "state") != "cancelled") {
          Violation(epoch + 1, "cancel of " + std::to_string(id) + " answered " + r.body);
        }
        if (t.acked) Violation(epoch + 1, "cancel of acked task " + Describe(t) + " got 200");
      } else if (r.status == 409) {
        ++s.cancels_conflict;  // it fell due and was taken first
      } else if (r.status == 404) {
        Lost(epoch + 1, t, "cancel answered 404 " + r.body);
      } else if (r.status != 429 && r.status != 503) {
        Violation(epoch + 1, "cancel of " + std::to_string(id) + " answered " +
                                 std::to_string(r.status) + ": " + r.body);
      }
    }
    std::this_thread::sleep_for(milliseconds(Uniform(rng, 2, 12)));
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

void CrashDriver::IngestCallbacks() {
  std::vector<testing::ReceivedCall> calls = receiver_.Calls(kCallbackPath);
  std::lock_guard lock(mu_);
  for (size_t i = ingested_calls_; i < calls.size(); ++i) {
    auto& call = calls[i];
    const std::string& id_text = call.headers["x-delayq-task-id"];
    uint64_t id = id_text.empty() ? 0 : std::stoull(id_text);
    int64_t attempt = std::atoll(call.headers["x-delayq-attempt"].c_str());
    int epoch = EpochAt(call.at_ms);
    OnDelivery(epoch, id, true, attempt, TagOf(call.body), 0, call.at_ms);
  }
  ingested_calls_ = calls.size();
}

// An unanswered add with a dedup_key is settled as the docs say: send it again with the same
// key. 200 → the first one was stored (that id); 201 → it was not (and now it is).
void CrashDriver::SettleDedupAdds(int epoch) {
  std::vector<AmbiguousAdd> pending;
  {
    std::lock_guard lock(mu_);
    for (const auto& a : ambiguous_) {
      if (a.outcome == AmbiguousAdd::kPending && !a.dedup_key.empty()) pending.push_back(a);
    }
  }
  HttpClient client(address_, seconds(10));
  for (const AmbiguousAdd& a : pending) {
    HttpResponse r = client.Post(a.path, a.request);
    json::value v = ParseBody(r.body);
    if (r.status == 200 || r.status == 201) {
      // OnAdded settles the ambiguous entry through its key (kStored or kNotStored).
      OnAdded(epoch, IdField(v, "id"), a.tag, a.topic, a.callback, a.api, a.dedup_key,
              v.at("due_at_ms").to_number<int64_t>(), r.status == 200);
    } else {
      std::lock_guard lock(mu_);
      Violation(epoch, "re-adding unanswered add " + a.tag + " answered " +
                           std::to_string(r.status) + ": " + r.body);
    }
  }
}

std::vector<Observation> CrashDriver::ReadAll() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, t] : tasks_) ids.push_back(id);
  }
  std::vector<Observation> out(ids.size());
  std::vector<std::thread> threads;
  for (int w = 0; w < kVerifyThreads; ++w) {
    threads.emplace_back([&, w] {
      HttpClient client(address_, seconds(10));
      for (size_t i = w; i < ids.size(); i += kVerifyThreads) {
        HttpResponse r = client.Get("/v1/tasks/" + std::to_string(ids[i]));
        Observation& o = out[i];
        o.seq = Tick();
        o.ms = WallClockMs();
        o.id = ids[i];
        o.status = r.status;
        if (r.status == 200) {
          json::value v = ParseBody(r.body);
          o.state = StringField(v, "state");
          o.tag = TagOf(StringField(v, "payload"));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

// `epoch` is the server run the reads were made in; round `epoch` was killed just before.
void CrashDriver::ApplyObservations(int epoch, const std::vector<Observation>& observations) {
  std::lock_guard lock(mu_);
  int round = epoch;  // the round whose kill is being checked (epoch rounds_ = after the last)
  for (const Observation& o : observations) {
    Task& t = tasks_[o.id];
    if (o.status == 404) {
      if (t.acknowledged || t.settled_add) Lost(round, t, "GET answered 404 after the restart");
      continue;
    }
    if (o.status != 200) {
      Violation(round,
                "GET /v1/tasks/" + std::to_string(o.id) + " answered " + std::to_string(o.status));
      continue;
    }
    if (o.tag != t.tag) {
      Violation(round, "task " + std::to_string(o.id) + " reads back tag " + o.tag +
                           ", added with " + t.tag);
    }
    const std::string& state = o.state;
    // Settle what the kill left unanswered.
    if (t.cancel_pending) {
      t.cancel_pending = false;
      RoundStats& s = stats_[t.cancel_pending_epoch];
      if (state == "cancelled") {
        ++s.lost_cancels_applied;
        t.cancelled = true;
        t.cancel_seq = kill_seq_[t.cancel_pending_epoch];
        t.cancel_ms = kill_ms_[t.cancel_pending_epoch];
      } else {
        ++s.lost_cancels_not_applied;
      }
    }
    for (Delivery& d : t.deliveries) {
      if (d.ack != AckResult::kLost || d.lost_ack_settled) continue;
      d.lost_ack_settled = true;
      if (state == "done" && !t.acked) {
        d.lost_ack_applied = true;
        t.acked = true;
        t.acked_seq = kill_seq_[d.epoch];
        ++stats_[d.epoch].lost_acks_applied;
      } else {
        ++stats_[d.epoch].lost_acks_not_applied;
      }
    }
    // The invariants.
    if (t.acked && state != "done") {
      Violation(round, "acked task " + std::to_string(t.id) + " is " + state +
                           ", must stay done (" + Describe(t) + ")");
    }
    if (t.cancelled && state != "cancelled") {
      Violation(round, "cancelled task " + std::to_string(t.id) + " is " + state +
                           ", must stay cancelled (" + Describe(t) + ")");
    }
    if (!t.cancelled && state == "cancelled") {
      Violation(round, "task " + std::to_string(t.id) +
                           " is cancelled though no cancel of it succeeded (" + Describe(t) + ")");
    }
    if (!t.callback && state == "done" && !t.acked) {
      Lost(round, t, "pull task is done without any ack of ours: consumed, never processed");
    }
    if (t.seen_done && state != "done") {
      Violation(round, "task " + std::to_string(t.id) + " was done and is now " + state + " (" +
                           Describe(t) + ")");
    }
    if (state == "dead") {
      Violation(round, "task " + std::to_string(t.id) + " is dead (" + Describe(t) + ")");
    }
    if (state == "done" && !t.seen_done) {
      t.seen_done = true;
      t.done_seq = o.seq;
      t.done_ms = o.ms;
    }
    t.last_state = state;
    ++stats_[std::max(0, round - 1)].checked;
  }
}

// Deliveries against acks, cancels and observed done states. Caller holds mu_.
void CrashDriver::CheckDeliveries() {
  for (const auto& [id, t] : tasks_) {
    for (const Delivery& d : t.deliveries) {
      int round = d.epoch + 1;
      std::string what = (d.callback ? "callback call" : "pull") + std::string(" of task ") +
                         std::to_string(id) + " (attempt " + std::to_string(d.attempt) + ")";
      if (d.callback) {
        if (t.cancelled && d.at_ms > t.cancel_ms) {
          Violation(round, what + " arrived after its cancel succeeded: " + Describe(t));
        }
        if (t.seen_done && d.at_ms > t.done_ms) {
          Violation(round, what + " arrived after the task was read as done: " + Describe(t));
        }
      } else {
        if (t.acked && d.sent_seq > t.acked_seq) {
          Violation(round, what + " was answered after its ack succeeded: " + Describe(t));
        }
        if (t.cancelled && d.sent_seq > t.cancel_seq) {
          Violation(round, what + " was answered after its cancel succeeded: " + Describe(t));
        }
        if (t.seen_done && d.sent_seq > t.done_seq) {
          Violation(round, what + " was answered after the task was read as done: " + Describe(t));
        }
      }
    }
  }
}

bool CrashDriver::DrainComplete(HttpClient& client) {
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, t] : tasks_) {
      if (!t.MustBeDelivered()) continue;
      if (t.deliveries.empty()) return false;
      if (!t.callback && !t.acked) return false;
    }
  }
  // Nothing left in either topic (this also covers unanswered adds that were stored).
  for (const std::string& topic : {kPullTopic, kCallbackTopic}) {
    HttpResponse r = client.Get("/v1/topics/" + topic);
    if (r.status == 404) continue;
    if (r.status != 200) return false;
    const json::value counts = ParseBody(r.body).at("counts");
    int64_t open = counts.at("scheduled").to_number<int64_t>() +
                   counts.at("leased").to_number<int64_t>() +
                   counts.at("delivering").to_number<int64_t>();
    if (open != 0) return false;
  }
  return true;
}

void CrashDriver::FinalChecks() {
  std::lock_guard lock(mu_);
  int round = rounds_ + 1;  // the drain
  for (auto& a : ambiguous_) {
    // Everything stored has been delivered by now (both topics are empty), so an
    // unanswered add whose tag never came back was not stored.
    if (a.outcome == AmbiguousAdd::kPending) a.outcome = AmbiguousAdd::kNotStored;
  }
  for (const auto& [id, t] : tasks_) {
    if (!t.MustBeDelivered()) continue;
    if (t.deliveries.empty()) {
      Lost(round, t, "never delivered by the end of the drain");
    } else if (t.last_state != "done") {
      Violation(round, "task " + std::to_string(id) + " is " + t.last_state + " after the drain (" +
                           Describe(t) + ")");
    }
  }
}

// Every delivery after the first is a duplicate; its reason is read off the delivery before
// it, and it is attributed to the round in which that earlier delivery was left unfinished.
void CrashDriver::AnalyseDuplicates() {
  std::lock_guard lock(mu_);
  for (const auto& [id, t] : tasks_) {
    if (!t.deliveries.empty() && t.deliveries[0].attempt > 1) {
      const Delivery& first = t.deliveries[0];  // earlier attempts never reached us
      stats_[std::max(0, first.epoch - 1)].hidden_deliveries += first.attempt - 1;
    }
    for (size_t k = 1; k < t.deliveries.size(); ++k) {
      const Delivery& prev = t.deliveries[k - 1];
      const Delivery& cur = t.deliveries[k];
      RoundStats& s = stats_[prev.epoch];
      bool later_run = cur.epoch > prev.epoch;
      std::string reason;
      if (cur.attempt > prev.attempt + 1) s.hidden_deliveries += cur.attempt - prev.attempt - 1;
      if (prev.callback) {
        reason = later_run ? "callback in flight at a kill"
                           : "UNEXPLAINED: callback repeated within one server run";
      } else if (prev.unacked_on_purpose) {
        reason = "lease expiry (left unacked on purpose)";
      } else if (prev.ack == AckResult::kLost && !prev.lost_ack_applied && later_run) {
        reason = "ack lost by the kill";
      } else if (prev.ack == AckResult::kNone && later_run) {
        reason = "lease expiry after a kill (not acked yet)";
      } else if (prev.ack == AckResult::kConflict) {
        reason = "lease expired before a slow ack (409)";
      } else if (prev.ack == AckResult::kRefused) {
        reason = "ack refused (429/503), lease expired";
      } else {
        reason = "UNEXPLAINED";
      }
      ++s.duplicates[reason];
      if (reason.rfind("UNEXPLAINED", 0) == 0) {
        Violation(prev.epoch + 1, "duplicate delivery without a reason: " + Describe(t));
      }
    }
  }
}

void CrashDriver::PrintRound(int round) const {
  const RoundStats& s = stats_[round - 1];
  std::cout << std::fixed << std::setprecision(2) << "[crash] round " << round << "/" << rounds_
            << ": load " << s.load_s << " s then SIGKILL; adds acked " << s.AddsAcked()
            << " (v1 pull " << s.adds_v1_pull << ", v1 callback " << s.adds_v1_callback
            << ", seed pull " << s.adds_seed_pull << ", seed callback " << s.adds_seed_callback
            << "), dedup hits " << s.dedup_hits << ", refused " << s.adds_refused << ", unanswered "
            << s.ambiguous_adds << "; deliveries pull " << s.pull_deliveries << " callback "
            << s.callback_deliveries << "; acks 200 " << s.acks_ok << " / 409 " << s.acks_conflict
            << " / unanswered " << s.acks_lost << " (applied " << s.lost_acks_applied
            << "), left unacked " << s.unacked << "; cancels 200 " << s.cancels_ok << " / 409 "
            << s.cancels_conflict << " / unanswered " << s.cancels_lost << " (applied "
            << s.lost_cancels_applied << "); restart " << s.restart_s << " s; verified "
            << stats_[round - 1].checked << " tasks in " << s.verify_s << " s\n";
}

void CrashDriver::PrintSummary(double total_s) {
  std::lock_guard lock(mu_);
  std::map<std::string, int> by_reason;
  int duplicates = 0, hidden = 0;
  std::cout << "[crash] duplicates by the round that left the delivery unfinished:\n";
  for (int r = 1; r <= rounds_ + 1; ++r) {
    const RoundStats& s = stats_[r - 1];
    int total = 0;
    std::ostringstream reasons;
    for (const auto& [reason, n] : s.duplicates) {
      total += n;
      by_reason[reason] += n;
      reasons << (reasons.tellp() > 0 ? ", " : "") << reason << " " << n;
    }
    duplicates += total;
    hidden += s.hidden_deliveries;
    std::cout << "[crash]   " << (r <= rounds_ ? "round " + std::to_string(r) : "drain")
              << ": duplicates " << total << (total ? " — " + reasons.str() : "")
              << (s.hidden_deliveries
                      ? "; attempts never seen (claimed or answered just before a kill) " +
                            std::to_string(s.hidden_deliveries)
                      : "")
              << "\n";
  }
  int acknowledged = 0, settled = 0, stored = 0, not_stored = 0, cancelled = 0;
  int acks_lost = 0, acks_applied = 0, cancels_lost = 0, cancels_applied = 0;
  for (const auto& s : stats_) {
    acknowledged += s.AddsAcked();
    acks_lost += s.acks_lost;
    acks_applied += s.lost_acks_applied;
    cancels_lost += s.cancels_lost;
    cancels_applied += s.lost_cancels_applied;
  }
  for (const auto& a : ambiguous_) (a.outcome == AmbiguousAdd::kStored ? stored : not_stored)++;
  size_t delivered_tasks = 0, deliveries = 0;
  for (const auto& [id, t] : tasks_) {
    if (t.settled_add) ++settled;
    if (t.cancelled) ++cancelled;
    if (!t.deliveries.empty()) ++delivered_tasks;
    deliveries += t.deliveries.size();
  }
  std::ostringstream reasons;
  for (const auto& [reason, n] : by_reason) {
    reasons << (reasons.tellp() > 0 ? ", " : "") << reason << " " << n;
  }
  std::cout << std::fixed << std::setprecision(1) << "[crash] SUMMARY seed=" << seed_
            << " rounds=" << rounds_ << " acknowledged_adds=" << acknowledged
            << " lost=" << lost_.size() << " duplicates=" << duplicates << " ("
            << (duplicates ? reasons.str() : "none") << ")"
            << " delivered_tasks=" << delivered_tasks << " deliveries=" << deliveries
            << " cancelled=" << cancelled << " unanswered_adds=" << ambiguous_.size() << " (stored "
            << stored << ", not stored " << not_stored << ")"
            << " unanswered_acks=" << acks_lost << " (applied " << acks_applied << ")"
            << " unanswered_cancels=" << cancels_lost << " (applied " << cancels_applied << ")"
            << " violations=" << violations_.size() << " time=" << total_s << "s\n";
}

void CrashDriver::Run() {
  auto started = std::chrono::steady_clock::now();
  std::cout << "[crash] seed=" << seed_ << " rounds=" << rounds_
            << " (DELAYQ_CRASH_SEED / DELAYQ_CRASH_ROUNDS)\n";
  server_ = std::make_unique<ServerProcess>(
      dir_.Sub("data"), std::vector<std::string>{
                            "--durability", "fsync", "--callbacks-timeout", "1s", "--max-attempts",
                            std::to_string(kMaxAttempts), "--log-level", "warn"});
  ASSERT_TRUE(StartServer()) << server_->last_error();
  std::mt19937_64 main_rng = Rng(0, 1);

  for (int round = 1; round <= rounds_; ++round) {
    int epoch = round - 1;
    int64_t load_ms = Uniform(main_rng, 300, 2000);
    auto load_started = std::chrono::steady_clock::now();
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    threads.emplace_back([&] { V1Adder(epoch, 0, stop); });
    threads.emplace_back([&] { V1Adder(epoch, 1, stop); });
    threads.emplace_back([&] { SeedAdder(epoch, stop); });
    threads.emplace_back([&] { Consumer(epoch, 0, false, stop); });
    threads.emplace_back([&] { Consumer(epoch, 1, false, stop); });
    threads.emplace_back([&] { Canceller(epoch, stop); });
    std::this_thread::sleep_for(milliseconds(load_ms));
    {
      std::lock_guard lock(mu_);
      kill_seq_[epoch] = Tick();
      kill_ms_[epoch] = WallClockMs();
    }
    server_->Kill();  // SIGKILL at a random moment of the load
    stop = true;
    for (auto& t : threads) t.join();
    stats_[epoch].load_s = SecondsSince(load_started);

    auto restart_started = std::chrono::steady_clock::now();
    ASSERT_TRUE(StartServer()) << server_->last_error();
    stats_[epoch].restart_s = SecondsSince(restart_started);

    auto verify_started = std::chrono::steady_clock::now();
    IngestCallbacks();
    {
      std::lock_guard lock(mu_);
      ResolveProvisional(round);
    }
    SettleDedupAdds(round);
    ApplyObservations(round, ReadAll());
    {
      std::lock_guard lock(mu_);
      CheckDeliveries();
    }
    stats_[epoch].verify_s = SecondsSince(verify_started);
    PrintRound(round);
  }

  // Drain: the last restarted server runs until every task is finished.
  auto drain_started = std::chrono::steady_clock::now();
  {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    threads.emplace_back([&] { Consumer(rounds_, 0, true, stop); });
    threads.emplace_back([&] { Consumer(rounds_, 1, true, stop); });
    HttpClient client(address_, seconds(10));
    bool complete = false;
    while (!complete && std::chrono::steady_clock::now() - drain_started < kDrainLimit) {
      std::this_thread::sleep_for(milliseconds(250));
      IngestCallbacks();
      complete = DrainComplete(client);
    }
    std::this_thread::sleep_for(milliseconds(300));  // let a late duplicate show itself
    stop = true;
    for (auto& t : threads) t.join();
    IngestCallbacks();
    {
      std::lock_guard lock(mu_);
      ResolveProvisional(rounds_ + 1);
    }
    if (!complete) {
      std::lock_guard lock(mu_);
      Violation(rounds_ + 1,
                "drain did not finish within " +
                    std::to_string(std::chrono::duration_cast<seconds>(kDrainLimit).count()) +
                    " s");
    }
  }
  ApplyObservations(rounds_ + 1, ReadAll());
  {
    std::lock_guard lock(mu_);
    CheckDeliveries();
  }
  FinalChecks();
  AnalyseDuplicates();
  std::cout << std::fixed << std::setprecision(2) << "[crash] drain took "
            << SecondsSince(drain_started) << " s\n";
  PrintSummary(SecondsSince(started));
  if (server_->Terminate() != 0) {
    std::lock_guard lock(mu_);
    Violation(rounds_ + 1, "server did not stop cleanly after the drain");
  }

  EXPECT_EQ(lost_.size(), 0u) << "acknowledged tasks lost (seed " << seed_ << ")";
  std::lock_guard lock(mu_);
  EXPECT_TRUE(violations_.empty()) << violations_.size() << " violations (seed " << seed_
                                   << "), the first: " << *violations_.begin();
}

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  return std::max(1, std::atoi(value));
}

uint64_t EnvSeed() {
  const char* value = std::getenv("DELAYQ_CRASH_SEED");
  if (value && *value) return std::strtoull(value, nullptr, 10);
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count() ^
                               (WallClockMs() << 20));
}

TEST(CrashDriver, SigkillRoundsLoseNothingAndDuplicatesHaveAReason) {
  CrashDriver driver(EnvInt("DELAYQ_CRASH_ROUNDS", 5), EnvSeed());
  driver.Run();
}

}  // namespace
}  // namespace delayq
