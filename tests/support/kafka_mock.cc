#include "support/kafka_mock.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <sstream>

#include "support/test_util.h"

namespace delayq::testing {

namespace json = boost::json;

KafkaMock::KafkaMock(int brokers) : brokers_(brokers) {}

KafkaMock::~KafkaMock() {
  if (to_child_ >= 0) close(to_child_);
  if (from_child_ >= 0) close(from_child_);
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::string KafkaMock::BinaryPath() { return DELAYQ_KAFKA_MOCK; }

bool KafkaMock::Start() {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    last_error_ = "pipe failed";
    return false;
  }
  std::string brokers = std::to_string(brokers_);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execl(DELAYQ_KAFKA_MOCK, DELAYQ_KAFKA_MOCK, "--brokers", brokers.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  to_child_ = in[1];
  from_child_ = out[0];
  std::string line;
  if (!ReadLine(&line, 10'000) || line.rfind("bootstrap ", 0) != 0) {
    last_error_ = "kafka_mock did not print its bootstrap address (got \"" + line + "\")";
    return false;
  }
  bootstrap_ = line.substr(10);
  return true;
}

bool KafkaMock::ReadLine(std::string* line, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (size_t nl = pending_.find('\n'); nl != std::string::npos) {
      *line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd pfd{from_child_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = read(from_child_, buf, sizeof buf);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
  }
}

std::string KafkaMock::Command(const std::string& line) {
  std::string request = line + "\n";
  if (write(to_child_, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    return "error write to kafka_mock failed";
  }
  std::string answer;
  if (!ReadLine(&answer, 10'000)) return "error no answer from kafka_mock";
  return answer;
}

std::vector<KafkaMessage> ReadTopicWithKcat(const std::string& bootstrap, const std::string& topic,
                                            std::string* error) {
  // -J: one JSON object per message (key, payload, headers as a flat name/value list);
  // -e: exit at the end of every partition.
  ProcessResult run = RunProcess({"/usr/bin/kcat", "-C", "-b", bootstrap, "-t", topic, "-o",
                                  "beginning", "-e", "-J", "-q", "-m", "20"});
  std::vector<KafkaMessage> messages;
  if (run.exit_code != 0) {
    if (error != nullptr)
      *error = "kcat failed (" + std::to_string(run.exit_code) + "): " + run.err;
    return messages;
  }
  std::istringstream lines(run.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value parsed = json::parse(line, ec);
    if (ec || !parsed.is_object()) {
      if (error != nullptr) *error = "kcat printed a line that is not JSON: " + line;
      continue;
    }
    const json::object& o = parsed.as_object();
    KafkaMessage m;
    m.topic = json::value_to<std::string>(o.at("topic"));
    m.partition = static_cast<int32_t>(o.at("partition").to_number<int64_t>());
    m.offset = o.at("offset").to_number<int64_t>();
    if (auto* ts = o.if_contains("ts")) m.timestamp_ms = ts->to_number<int64_t>();
    if (auto* k = o.if_contains("key"); k && k->is_string()) m.key = k->as_string();
    if (auto* p = o.if_contains("payload"); p && p->is_string()) m.value = p->as_string();
    if (auto* h = o.if_contains("headers"); h && h->is_array()) {
      const json::array& a = h->as_array();
      for (size_t i = 0; i + 1 < a.size(); i += 2) {
        m.headers[json::value_to<std::string>(a[i])] =
            a[i + 1].is_string() ? std::string(a[i + 1].as_string()) : std::string();
      }
    }
    messages.push_back(std::move(m));
  }
  return messages;
}

}  // namespace delayq::testing
