#pragma once

// What the configuration's files share: config.cc (loading: defaults < file < environment <
// flags, and the checks across settings), settings.cc (the table of scalar settings and their
// setters) and config_file.cc (the YAML file, and config-centre values checked like it).

#include <string>
#include <string_view>

#include "config/config.h"

namespace delayq::config {

// Runs the setting's setter; a failure is prefixed with the key and where the value came
// from ("environment DELAYQ_LISTEN: listen: ...").
Result<void> Apply(const Setting& setting, Config& config, std::string_view value,
                   std::string_view source);

// The scalar setting with this key, or null.
const Setting* FindSetting(std::string_view key);

// Applies the YAML file at `path` over `config`.
Result<void> ApplyFile(Config& config, const std::string& path);

}  // namespace delayq::config
