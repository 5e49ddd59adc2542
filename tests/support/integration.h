#pragma once

// What a test of the real binary uses from this library, under short names: include this
// and write `using namespace delayq::integration;` in the test's namespace.

#include "support/callback_receiver.h"
#include "support/http_client.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq::integration {

using testing::CallbackReceiver;
using testing::HttpClient;
using testing::HttpResponse;
using testing::RunCommand;
using testing::ServerProcess;
using testing::TempDir;
using testing::WaitFor;
using testing::WallClockMs;

}  // namespace delayq::integration
