#include "common/trace_context.h"

namespace delayq {

namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool AllLowerHex(std::string_view s) {
  for (char c : s) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

bool IsKeyStart(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsKeyChar(char c) {
  return IsKeyStart(c) || c == '_' || c == '-' || c == '*' || c == '/' || c == '@';
}

// Printable ASCII except ',' and '='; a space only inside the value (checked by the caller).
bool IsValueChar(char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; }

std::string_view Trim(std::string_view s) {
  size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  size_t last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

// One list member: key "=" value, key of [a-z0-9_*/@-] (at most 256 with a tenant@vendor
// form), value 1-256 printable characters not ending in a space.
bool IsListMember(std::string_view member) {
  size_t eq = member.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq > 256) return false;
  std::string_view key = member.substr(0, eq);
  std::string_view value = member.substr(eq + 1);
  if (!IsKeyStart(key[0])) return false;
  for (char c : key) {
    if (!IsKeyChar(c)) return false;
  }
  if (key.find('@') != key.rfind('@')) return false;
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  for (char c : value) {
    if (!IsValueChar(c)) return false;
  }
  return true;
}

}  // namespace

std::string TraceparentProblem(std::string_view value) {
  if (value.size() != kTraceparentLength || value[2] != '-' || value[35] != '-' ||
      value[52] != '-') {
    return "it must be 55 characters in four dash-separated fields";
  }
  std::string_view version = value.substr(0, 2);
  std::string_view trace_id = value.substr(3, 32);
  std::string_view parent_id = value.substr(36, 16);
  std::string_view flags = value.substr(53, 2);
  if (!AllLowerHex(version) || !AllLowerHex(trace_id) || !AllLowerHex(parent_id) ||
      !AllLowerHex(flags)) {
    return "its fields must be lower-case hex digits";
  }
  if (version != "00") return "its version must be 00 (the only version delayq accepts)";
  if (AllZero(trace_id)) return "its trace-id must not be all zeros";
  if (AllZero(parent_id)) return "its parent-id must not be all zeros";
  return {};
}

std::string TracestateProblem(std::string_view value) {
  if (value.size() > kMaxTracestateLength) {
    return "it must be at most " + std::to_string(kMaxTracestateLength) + " characters";
  }
  size_t members = 0;
  while (true) {
    size_t comma = value.find(',');
    std::string_view member = Trim(value.substr(0, comma));
    // Empty members (",,") are allowed by the specification and carry nothing.
    if (!member.empty()) {
      if (!IsListMember(member)) {
        return "it must be comma-separated key=value members (key of a-z 0-9 _ - * / @, "
               "value of printable characters but , and =)";
      }
      if (++members > kMaxTracestateMembers) {
        return "it must have at most " + std::to_string(kMaxTracestateMembers) + " members";
      }
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return {};
}

std::string_view TraceId(std::string_view traceparent) {
  if (traceparent.size() < 35) return {};
  return traceparent.substr(3, 32);
}

std::string TraceLogField(std::string_view traceparent) {
  std::string_view id = TraceId(traceparent);
  if (id.empty()) return {};
  return " trace_id=" + std::string(id);
}

}  // namespace delayq
