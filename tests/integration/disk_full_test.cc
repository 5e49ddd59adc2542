// A full disk, for real: the data directory on a small filesystem the test mounts (a
// size-limited tmpfs, and ext4 in a loop-mounted image), filled by adds until writes
// fail. No abort, ever; adds answer 503 with a message that says the disk is full;
// /readyz is 503; what is stored keeps being delivered while there is room; nothing
// acknowledged is lost; after space is freed delayq serves again without a restart; SIGTERM
// and restarts on the full disk end cleanly. Needs root (mount); skipped otherwise.

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "support/integration.h"

namespace delayq {
namespace {

using namespace integration;
namespace json = boost::json;

constexpr uint64_t kFilesystemBytes = 48ULL << 20;
// Written before the fill and deleted to "free space": big enough for RocksDB to flush its
// memtables (what it needs to resume) and take adds again.
constexpr uint64_t kBallastBytes = 16ULL << 20;
constexpr size_t kPayloadBytes = 60'000;
constexpr int kDueTasks = 20;  // pull tasks due at once, added before the fill
constexpr std::chrono::seconds kRecoverWithin{30};

enum class Kind { kTmpfs, kExt4 };

// A filesystem of kFilesystemBytes mounted on a fresh directory, unmounted at the end.
class SmallFilesystem {
 public:
  SmallFilesystem(Kind kind, const TempDir& dir) : mount_point_(dir.Sub("mnt")) {
    ::mkdir(mount_point_.c_str(), 0755);
    if (kind == Kind::kTmpfs) {
      std::string options = "size=" + std::to_string(kFilesystemBytes);
      if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
        why_not_ = std::string("mount -t tmpfs: ") + std::strerror(errno);
        return;
      }
    } else {
      // Kept outside the mount point, so that it is not part of what fills up.
      std::string image = dir.Sub("ext4.img");
      auto made = testing::RunProcess({"/bin/sh", "-c",
                                       "truncate -s " + std::to_string(kFilesystemBytes) + " " +
                                           image + " && mkfs.ext4 -q -F -m 0 " + image +
                                           " && mount -o loop " + image + " " + mount_point_});
      if (made.exit_code != 0) {
        why_not_ = "mkfs.ext4 + mount -o loop: " + made.err;
        return;
      }
    }
    mounted_ = true;
  }
  ~SmallFilesystem() {
    if (mounted_ && ::umount2(mount_point_.c_str(), MNT_DETACH) != 0) {
      ADD_FAILURE() << "umount " << mount_point_ << ": " << std::strerror(errno);
    }
  }

  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_not_; }
  std::string Path(const std::string& name) const { return mount_point_ + "/" + name; }

  uint64_t FreeBytes() const {
    struct statvfs fs {};
    if (::statvfs(mount_point_.c_str(), &fs) != 0) return 0;
    return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }

  // Fills `bytes` (or as much as fits) into a file, really allocated (no holes).
  void WriteFile(const std::string& name, uint64_t bytes) const {
    std::ofstream out(Path(name), std::ios::binary);
    std::string block(1 << 20, 'b');
    for (uint64_t written = 0; written < bytes && out; written += block.size()) {
      out.write(block.data(),
                static_cast<std::streamsize>(std::min<uint64_t>(block.size(), bytes - written)));
    }
    out.close();
    ::sync();
  }

 private:
  std::string mount_point_;
  std::string why_not_;
  bool mounted_ = false;
};

std::string Str(const json::value& v, const char* key) {
  return std::string(v.as_object().at(key).as_string());
}

class DiskFull : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small filesystem";
    fs_ = std::make_unique<SmallFilesystem>(GetParam(), dir_);
    if (!fs_->mounted()) {
      GTEST_SKIP() << "cannot mount a small filesystem here (" << fs_->why_not() << ")";
    }
    fs_->WriteFile("ballast", kBallastBytes);
  }

  std::unique_ptr<ServerProcess> Start(std::vector<std::string> flags = {}) {
    flags.insert(flags.end(), {"--access-log", "false", "--callbacks-allow-hosts", "127.0.0.1"});
    auto server = std::make_unique<ServerProcess>(fs_->Path("data"), flags);
    EXPECT_TRUE(server->Start()) << server->last_error();
    return server;
  }

  // Adds 1-hour tasks with big payloads until one is refused; returns the ids acknowledged
  // and the refusal.
  HttpResponse FillUntilRefused(HttpClient& client, std::vector<std::string>* acked) {
    std::string payload(kPayloadBytes, 'p');
    for (int i = 0; i < 10'000; ++i) {
      auto response = client.Post("/v1/topics/fill/tasks",
                                  R"({"delay_ms":3600000,"payload":")" + payload + R"("})");
      if (response.status != 201) return response;
      acked->push_back(Str(json::parse(response.body), "id"));
    }
    ADD_FAILURE() << "the filesystem never filled";
    return {};
  }

  std::string AddDuePull(HttpClient& client, int i) {
    auto response = client.Post("/v1/topics/due/tasks",
                                R"({"delay_ms":0,"payload":"d)" + std::to_string(i) + R"("})");
    EXPECT_EQ(response.status, 201) << response.body;
    return response.status == 201 ? Str(json::parse(response.body), "id") : "";
  }

  // Every acknowledged task is stored, in the state it should be in.
  void ExpectStored(HttpClient& client, const std::vector<std::string>& ids,
                    const std::string& state) {
    for (const std::string& id : ids) {
      auto response = client.Get("/v1/tasks/" + id);
      ASSERT_EQ(response.status, 200) << id << ": " << response.body;
      EXPECT_EQ(Str(json::parse(response.body), "state"), state) << id;
    }
  }

  static void ExpectNoAbort(const ServerProcess& server) {
    EXPECT_EQ(server.Log().find("Assertion"), std::string::npos) << server.Log();
  }

  TempDir dir_;
  std::unique_ptr<SmallFilesystem> fs_;
};

// With the default reserve (limits.min_free_disk) adds stop while there is still room,
// and that room lets the tasks already stored be pulled, acked and called back.
TEST_P(DiskFull, AddsStopAtTheReserveAndDeliveriesGoOn) {
  CallbackReceiver receiver;
  auto server = Start();
  HttpClient client(server->address());
  std::vector<std::string> due;
  for (int i = 0; i < kDueTasks; ++i) due.push_back(AddDuePull(client, i));
  std::vector<std::string> acked;
  // Callback tasks due in a moment: they fire while adds are refused.
  std::vector<std::string> callbacks;
  for (int i = 0; i < 5; ++i) {
    auto response = client.Post("/v1/topics/cb/tasks", R"({"delay_ms":1500,"payload":"c",)"
                                                       R"("callback":{"url":")" +
                                                           receiver.base_url() + R"(/ok"}})");
    ASSERT_EQ(response.status, 201) << response.body;
    callbacks.push_back(Str(json::parse(response.body), "id"));
  }

  HttpResponse refused = FillUntilRefused(client, &acked);
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("disk full"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("limits.min_free_disk"), std::string::npos) << refused.body;
  EXPECT_GT(acked.size(), 100u);
  auto seed = client.Post("/delay/task/add", R"({"topic":"seed","timing_moment":1,"content":"x"})");
  EXPECT_EQ(seed.status, 503);
  EXPECT_NE(seed.body.find("disk full"), std::string::npos) << seed.body;
  auto ready = client.Get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("disk full"), std::string::npos) << ready.body;
  EXPECT_EQ(client.Get("/healthz").status, 200);

  // Pulls and acks of what is stored go on.
  auto pulled = client.Post("/v1/topics/due/pull", R"({"max":100,"lease_ms":30000})");
  ASSERT_EQ(pulled.status, 200) << pulled.body;
  json::value pulled_body = json::parse(pulled.body);
  const auto& tasks = pulled_body.at("tasks").as_array();
  EXPECT_EQ(tasks.size(), static_cast<size_t>(kDueTasks));
  for (const auto& task : tasks) {
    auto ack = client.Post("/v1/tasks/" + Str(task, "id") + "/ack",
                           R"({"lease":")" + Str(task, "lease") + R"("})");
    EXPECT_EQ(ack.status, 200) << ack.body;
  }
  // So do callbacks.
  EXPECT_TRUE(receiver.WaitForCalls("/ok", callbacks.size(), std::chrono::seconds(20)));
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const auto& id : callbacks) {
          auto task = client.Get("/v1/tasks/" + id);
          if (task.status != 200 || Str(json::parse(task.body), "state") != "done") return false;
        }
        return true;
      },
      std::chrono::seconds(20)));

  ::unlink(fs_->Path("ballast").c_str());
  EXPECT_TRUE(WaitFor([&] { return client.Get("/readyz").status == 200; }, kRecoverWithin))
      << server->Log();
  EXPECT_EQ(
      client.Post("/v1/topics/fill/tasks", R"({"delay_ms":3600000,"payload":"after"})").status,
      201);
  ExpectStored(client, acked, "scheduled");
  ExpectStored(client, due, "done");
  EXPECT_EQ(server->Terminate(), 0);
  ExpectNoAbort(*server);
}

// Without a reserve the writes themselves fail (ENOSPC from the filesystem), RocksDB stops
// all writes, and delayq must neither abort nor lie; once space is freed it resumes by
// itself (no readiness probe needed: the scheduler drives the recovery).
TEST_P(DiskFull, WritesFailingWithEnospcAreHandledAndServiceResumes) {
  auto server = Start({"--limits-min-free-disk", "0"});
  HttpClient client(server->address());
  std::vector<std::string> due;
  for (int i = 0; i < kDueTasks; ++i) due.push_back(AddDuePull(client, i));
  std::vector<std::string> acked;
  HttpResponse refused = FillUntilRefused(client, &acked);
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("disk full"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("No space left on device"), std::string::npos) << refused.body;
  auto ready = client.Get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("disk full"), std::string::npos) << ready.body;
  // RocksDB refuses every write now: a pull answers 503 and leaves its tasks due; reads work.
  for (int i = 0; i < 3; ++i) {
    auto pulled = client.Post("/v1/topics/due/pull", R"({"max":100,"lease_ms":30000})");
    EXPECT_EQ(pulled.status, 503) << pulled.body;
    EXPECT_EQ(client.Post("/v1/topics/fill/tasks", R"({"delay_ms":1,"payload":"x"})").status, 503);
  }
  ExpectStored(client, due, "due");

  ::unlink(fs_->Path("ballast").c_str());
  // No /readyz until it works again: the recovery must not depend on probes.
  EXPECT_TRUE(WaitFor(
      [&] {
        return client.Post("/v1/topics/fill/tasks", R"({"delay_ms":3600000,"payload":"after"})")
                   .status == 201;
      },
      kRecoverWithin))
      << server->Log();
  EXPECT_EQ(client.Get("/readyz").status, 200);
  auto pulled = client.Post("/v1/topics/due/pull", R"({"max":100,"lease_ms":30000})");
  ASSERT_EQ(pulled.status, 200) << pulled.body;
  EXPECT_EQ(json::parse(pulled.body).at("tasks").as_array().size(), static_cast<size_t>(kDueTasks));
  ExpectStored(client, acked, "scheduled");

  EXPECT_EQ(server->Terminate(), 0);
  ExpectNoAbort(*server);
  auto again = Start();
  HttpClient after(again->address());
  ExpectStored(after, acked, "scheduled");
  EXPECT_EQ(again->Terminate(), 0);
}

// SIGTERM on a full disk, and starting again on it: a clean stop and a clean refusal (or a
// clean start), never an abort; after space is freed everything acknowledged is there.
TEST_P(DiskFull, StopAndRestartOnAFullDiskEndCleanly) {
  std::vector<std::string> acked;
  {
    auto server = Start({"--limits-min-free-disk", "0", "--durability", "buffered"});
    HttpClient client(server->address());
    ASSERT_EQ(FillUntilRefused(client, &acked).status, 503);
    EXPECT_EQ(server->Terminate(), 0) << server->Log();
    ExpectNoAbort(*server);
  }
  // Whatever space RocksDB freed at the stop is taken too.
  fs_->WriteFile("more-ballast", fs_->FreeBytes());
  for (int attempt = 0; attempt < 2; ++attempt) {
    ServerProcess server(fs_->Path("data"), {"--access-log", "false"});
    if (server.Start()) {
      // Opened without needing space: it serves reads and refuses adds.
      HttpClient client(server.address());
      EXPECT_EQ(client.Post("/v1/topics/fill/tasks", R"({"delay_ms":1,"payload":"x"})").status,
                503);
      EXPECT_EQ(server.Terminate(), 0);
    } else {
      EXPECT_NE(server.last_error().find("disk full"), std::string::npos) << server.last_error();
    }
    ExpectNoAbort(server);
  }
  ::unlink(fs_->Path("ballast").c_str());
  ::unlink(fs_->Path("more-ballast").c_str());
  auto server = Start();
  HttpClient client(server->address());
  ExpectStored(client, acked, "scheduled");
  EXPECT_EQ(client.Post("/v1/topics/fill/tasks", R"({"delay_ms":1,"payload":"x"})").status, 201);
  EXPECT_EQ(server->Terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(Filesystems, DiskFull, ::testing::Values(Kind::kTmpfs, Kind::kExt4),
                         [](const auto& info) {
                           return info.param == Kind::kTmpfs ? std::string("Tmpfs")
                                                             : std::string("Ext4");
                         });

}  // namespace
}  // namespace delayq
