#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "cli/http.h"

namespace delayq::cli {

// Sends one call of subcommand `command`. A 2xx answer is returned; otherwise prints why to
// stderr (with what to do: a token, another server, retry later), the raw body too when
// `print_json`, sets *exit_code (kExitUnreachable, kExitRefused) and returns nullopt.
std::optional<Reply> CallServer(Client& client, std::string_view command, std::string_view method,
                                const std::string& path, const std::string& body, bool print_json,
                                int* exit_code, std::chrono::milliseconds timeout);

}  // namespace delayq::cli
