#pragma once

#include <string>
#include <string_view>

namespace delayq {

// A value for a key=value log line (logfmt): bare when it has no space, quote, equals sign,
// backslash or control character, otherwise in double quotes with \" \\ \n \r \t and \xHH
// escapes, so that one event stays one line whatever a client sends (paths, ids, errors).
std::string LogValue(std::string_view value);

}  // namespace delayq
