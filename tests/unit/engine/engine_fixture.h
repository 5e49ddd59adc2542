#pragma once

// An Engine over an embedded store in a temporary directory, on a hand-driven clock: the
// fixture the engine's unit tests share. Open/Close restart it on the same data.
#include <gtest/gtest.h>

#include <memory>

#include "engine/engine.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace delayq::engine {

class EngineFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kNow = 1'800'000'000'000;

  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  // With engine_config_ and callbacks_ as the test set them.
  void Open() {
    store::StoreConfig config;
    config.data_dir = dir_.Sub("data");
    auto opened = store::OpenStore(config);
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    engine_ = std::make_unique<Engine>(*store_, clock_, engine_config_, callbacks_);
    ASSERT_TRUE(engine_->Start());
  }

  void Close() {
    if (engine_) engine_->Stop();
    engine_.reset();
    store_.reset();
  }

  testing::TempDir dir_;
  ManualClock clock_{kNow};
  EngineConfig engine_config_;
  CallbackSink* callbacks_ = nullptr;  // may be null: no callback task is due
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace delayq::engine
