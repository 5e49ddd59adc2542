#include "support/test_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace delayq::testing {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

std::string ParseHeaderBlock(std::string_view head, std::map<std::string, std::string>* headers) {
  size_t line_end = head.find("\r\n");
  std::string start_line(head.substr(0, line_end));
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      size_t value = line.find_first_not_of(' ', colon + 1);
      (*headers)[name] = value == std::string_view::npos ? "" : std::string(line.substr(value));
    }
    pos = end + 2;
  }
  return start_line;
}

}  // namespace delayq::testing
