#include "store/rocksdb_logger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "common/logfmt.h"

namespace delayq::store {
namespace {

class InfoLogger final : public rocksdb::Logger {
 public:
  InfoLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::DEBUG_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    spdlog::level::level_enum to = Map(level);
    if (!spdlog::should_log(to)) return;
    char buffer[1024];
    va_list copy;
    va_copy(copy, ap);
    int n = std::vsnprintf(buffer, sizeof buffer, format, copy);
    va_end(copy);
    if (n < 0) return;
    std::string text(buffer, std::min<size_t>(static_cast<size_t>(n), sizeof buffer - 1));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    spdlog::log(to, "msg=rocksdb text={}", LogValue(text));
  }

  void LogHeader(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::HEADER_LEVEL, format, ap);
  }

 private:
  static spdlog::level::level_enum Map(rocksdb::InfoLogLevel level) {
    switch (level) {
      case rocksdb::InfoLogLevel::WARN_LEVEL:
        return spdlog::level::warn;
      case rocksdb::InfoLogLevel::ERROR_LEVEL:
        return spdlog::level::err;
      case rocksdb::InfoLogLevel::FATAL_LEVEL:
        return spdlog::level::critical;
      default:  // debug, info, header
        return spdlog::level::debug;
    }
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewInfoLogger() { return std::make_shared<InfoLogger>(); }

}  // namespace delayq::store
