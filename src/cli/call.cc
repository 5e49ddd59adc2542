#include "cli/call.h"

#include <boost/json.hpp>
#include <iostream>

#include "cli/commands.h"

namespace delayq::cli {

namespace json = boost::json;

std::optional<Reply> CallServer(Client& client, std::string_view command, std::string_view method,
                                const std::string& path, const std::string& body, bool print_json,
                                int* exit_code, std::chrono::milliseconds timeout) {
  auto reply = client.Send(method, path, body, timeout);
  if (!reply) {
    std::cerr << "delayq " << command << ": cannot reach the server at " << client.server() << ": "
              << reply.error().message
              << " (is delayq running there? set --server or DELAYQ_SERVER)\n";
    *exit_code = kExitUnreachable;
    return std::nullopt;
  }
  if (reply->status >= 200 && reply->status < 300) return std::move(*reply);
  if (print_json) std::cout << reply->body << "\n";
  std::string message = reply->body;
  boost::system::error_code ec;
  json::value parsed = json::parse(reply->body, ec);
  if (!ec && parsed.is_object()) {
    if (const json::value* text = parsed.as_object().if_contains("error_msg")) {
      message = text->is_string() ? std::string(text->as_string()) : json::serialize(*text);
    }
  }
  std::cerr << "delayq " << command << ": the server answered " << reply->status << ": " << message;
  if (reply->status == 401) {
    std::cerr << " (give a token with --token or DELAYQ_TOKEN)";
  } else if (reply->status == 403) {
    std::cerr << " (this token lacks the right; use one allowed for this topic or an admin "
                 "token)";
  } else if (reply->status == 429 || reply->status == 503) {
    std::cerr << " (the server is overloaded or its storage unavailable; retry later)";
  }
  if (!reply->request_id.empty()) std::cerr << " [request id " << reply->request_id << "]";
  std::cerr << "\n";
  *exit_code = kExitRefused;
  return std::nullopt;
}

}  // namespace delayq::cli
