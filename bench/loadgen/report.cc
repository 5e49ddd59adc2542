#include "report.h"

#include <cstdio>

#include "clock.h"

namespace loadgen {

Report::Report(std::string_view scenario) : scenario_(scenario) { Set("scenario", scenario); }

Report& Report::Raw(std::string_view name, std::string_view json_value) {
  line_ += line_.empty() ? "{\"" : ",\"";
  line_ += name;
  line_ += "\":";
  line_ += json_value;
  return *this;
}

Report& Report::Set(std::string_view name, double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return Raw(name, text);
}

Report& Report::Set(std::string_view name, std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      quoted += escaped;
      continue;
    }
    quoted += c;
  }
  quoted += '"';
  return Raw(name, quoted);
}

Report& Report::Latency(std::string_view prefix, const LatencyHistogram& histogram, bool with_max) {
  std::string p(prefix);
  Set(p + "p50_ms", Millis(histogram.ValueAtPercentile(50)));
  Set(p + "p99_ms", Millis(histogram.ValueAtPercentile(99)));
  if (with_max) Set(p + "max_ms", Millis(histogram.max()));
  return *this;
}

Report& Report::Errors(std::string_view field, std::string_view what, const ErrorTally& tally) {
  if (!tally.first.empty()) {
    std::fprintf(stderr, "loadgen %s: %llu %.*s, first: %s\n", scenario_.c_str(),
                 static_cast<unsigned long long>(tally.count), static_cast<int>(what.size()),
                 what.data(), tally.first.c_str());
  }
  return Set(field, tally.count);
}

int Report::Print() {
  std::printf("%s}\n", line_.c_str());
  std::fflush(stdout);
  return valid_ ? 0 : 1;
}

}  // namespace loadgen
