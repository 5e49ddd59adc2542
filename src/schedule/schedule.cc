#include "schedule/schedule.h"

#include <charconv>
#include <cstring>

namespace delayq::schedule {

std::string_view CatchUpName(CatchUp policy) {
  switch (policy) {
    case CatchUp::kSkip:
      return "skip";
    case CatchUp::kAll:
      return "all";
    case CatchUp::kLatest:
      break;
  }
  return "latest";
}

std::optional<CatchUp> ParseCatchUp(std::string_view name) {
  if (name == "skip") return CatchUp::kSkip;
  if (name == "latest") return CatchUp::kLatest;
  if (name == "all") return CatchUp::kAll;
  return std::nullopt;
}

bool Definition::SameAs(const Definition& o) const {
  return topic == o.topic && timing.cron == o.timing.cron && timing.every_ms == o.timing.every_ms &&
         timing.time_zone == o.timing.time_zone && timing.start_at_ms == o.timing.start_at_ms &&
         timing.end_at_ms == o.timing.end_at_ms && jitter_ms == o.jitter_ms &&
         catch_up == o.catch_up && catch_up_window_ms == o.catch_up_window_ms &&
         paused == o.paused && task == o.task;
}

// --- The stored body ------------------------------------------------------------------------
// Layout, version 1: the version byte, then fixed-width little-endian integers and
// length-prefixed (u32) strings in the order written below. To change it: bump kBodyVersion,
// append fields, and keep decoding the older versions.

namespace {

constexpr uint8_t kBodyVersion = 1;

class Writer {
 public:
  template <class T>
  void Int(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void Str(std::string_view s) {
    Int(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <class T>
  bool Int(T& v) {
    if (in_.size() < sizeof v) return false;
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    return true;
  }
  bool Str(std::string& s) {
    uint32_t n = 0;
    if (!Int(n) || in_.size() < n) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }

 private:
  std::string_view in_;
};

}  // namespace

std::string EncodeBody(const Definition& d, const Progress& p) {
  Writer w;
  w.Int(kBodyVersion);
  w.Str(d.topic);
  w.Str(d.timing.cron);
  w.Int(d.timing.every_ms);
  w.Str(d.timing.time_zone);
  w.Int(d.timing.anchor_ms);
  w.Int(d.timing.start_at_ms);
  w.Int(d.timing.end_at_ms);
  w.Int(d.jitter_ms);
  w.Int(static_cast<uint8_t>(d.catch_up));
  w.Int(d.catch_up_window_ms);
  w.Int(static_cast<uint8_t>(d.paused));
  w.Str(d.task.payload);
  w.Int(static_cast<uint8_t>(d.task.payload_is_json));
  w.Int(d.task.kind);
  w.Str(d.task.callback);
  w.Int(d.task.max_attempts);
  w.Int(p.generation);
  w.Int(p.next_occurrence_ms);
  w.Int(p.next_task_id);
  w.Int(p.last_occurrence_ms);
  w.Int(p.last_task_id);
  w.Int(p.created_at_ms);
  w.Int(p.updated_at_ms);
  return std::move(w.out_);
}

Result<std::pair<Definition, Progress>> DecodeBody(std::string_view bytes) {
  Reader r(bytes);
  Definition d;
  Progress p;
  uint8_t version = 0, catch_up = 0, paused = 0, is_json = 0;
  bool ok = r.Int(version) && version == kBodyVersion && r.Str(d.topic) && r.Str(d.timing.cron) &&
            r.Int(d.timing.every_ms) && r.Str(d.timing.time_zone) && r.Int(d.timing.anchor_ms) &&
            r.Int(d.timing.start_at_ms) && r.Int(d.timing.end_at_ms) && r.Int(d.jitter_ms) &&
            r.Int(catch_up) && r.Int(d.catch_up_window_ms) && r.Int(paused) &&
            r.Str(d.task.payload) && r.Int(is_json) && r.Int(d.task.kind) &&
            r.Str(d.task.callback) && r.Int(d.task.max_attempts) && r.Int(p.generation) &&
            r.Int(p.next_occurrence_ms) && r.Int(p.next_task_id) && r.Int(p.last_occurrence_ms) &&
            r.Int(p.last_task_id) && r.Int(p.created_at_ms) && r.Int(p.updated_at_ms);
  if (!ok || catch_up > 2) {
    return Fail(Errc::kInternal, "stored schedule is unreadable (body version " +
                                     std::to_string(version) + ", this build reads " +
                                     std::to_string(kBodyVersion) + ")");
  }
  d.catch_up = static_cast<CatchUp>(catch_up);
  d.paused = paused != 0;
  d.task.payload_is_json = is_json != 0;
  return std::make_pair(std::move(d), p);
}

// --- Names and identities ---------------------------------------------------------------------

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string OccurrenceKey(std::string_view name, uint64_t generation, int64_t occurrence_ms) {
  return std::string(kOccurrenceKeyPrefix) + std::string(name) + "/" + std::to_string(generation) +
         "/" + std::to_string(occurrence_ms);
}

std::string TriggerKey(std::string_view name, int64_t at_ms) {
  return std::string(kOccurrenceKeyPrefix) + std::string(name) + "/trigger/" +
         std::to_string(at_ms);
}

std::optional<Occurrence> ParseOccurrenceKey(std::string_view key) {
  if (!key.starts_with(kOccurrenceKeyPrefix)) return std::nullopt;
  key.remove_prefix(kOccurrenceKeyPrefix.size());
  size_t last = key.rfind('/');
  if (last == std::string_view::npos || last == 0) return std::nullopt;
  size_t middle = key.rfind('/', last - 1);
  if (middle == std::string_view::npos || middle == 0) return std::nullopt;
  Occurrence out;
  std::string_view ms = key.substr(last + 1);
  auto [end, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), out.occurrence_ms);
  if (ec != std::errc() || end != ms.data() + ms.size()) return std::nullopt;
  out.schedule = std::string(key.substr(0, middle));
  return out;
}

int64_t JitteredDue(std::string_view name, int64_t occurrence_ms, int64_t jitter_ms) {
  if (jitter_ms <= 0) return occurrence_ms;
  // FNV-1a over the name and the occurrence, then a 64-bit mix: stable across builds.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](uint8_t byte) { h = (h ^ byte) * 1099511628211ULL; };
  for (char c : name) mix(static_cast<uint8_t>(c));
  for (int i = 0; i < 8; ++i)
    mix(static_cast<uint8_t>(static_cast<uint64_t>(occurrence_ms) >> (8 * i)));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return occurrence_ms + static_cast<int64_t>(h % static_cast<uint64_t>(jitter_ms + 1));
}

}  // namespace delayq::schedule
