#pragma once

#include <sys/types.h>

#include <string>

#include "support/http_client.h"

namespace delayq::testing {

// Helpers for tests that write HTTP by hand, byte for byte, and read what comes back.

// "METHOD TARGET HTTP/1.1\r\nHost: 127.0.0.1\r\n": a request head without its blank line, so
// that the test can add headers before "\r\n".
std::string RequestHead(const std::string& method, const std::string& target);

// A whole request with a JSON body and its Content-Length.
std::string RequestWithJsonBody(const std::string& method, const std::string& target,
                                const std::string& body);

// A blocking TCP connection (TCP_NODELAY) to `address` ("127.0.0.1:PORT"), or -1.
int ConnectTo(const std::string& address);

// Sends `bytes` on a fresh connection and returns every byte the server sends until it closes
// the connection (or stays silent for 10 s). For checks on the exact bytes on the wire, which
// HttpClient::ReadResponse (it trusts Content-Length) cannot make.
std::string ExchangeUntilClosed(const std::string& address, const std::string& bytes);

// True while the process has not exited (does not reap it: its owner still does).
bool ProcessAlive(pid_t pid);

// Checks a transport-level error answer: `status`, dm_error 1 and an error_msg containing
// `mentions`.
void ExpectTransportError(const HttpResponse& response, int status, const std::string& mentions);

}  // namespace delayq::testing
