#include "http_connection.h"

#include <boost/asio.hpp>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <stdexcept>

namespace loadgen {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

awaitable<HttpResponse> HttpConnection::RoundTrip(std::string_view request) {
  try {
    co_await ConnectIfClosed();
    co_await asio::async_write(socket_, asio::buffer(request), use_awaitable);
    co_return co_await ReadResponse();
  } catch (...) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    throw;
  }
}

awaitable<std::vector<HttpResponse>> HttpConnection::Pipeline(std::string_view requests,
                                                              size_t count) {
  try {
    co_await ConnectIfClosed();
    co_await asio::async_write(socket_, asio::buffer(requests), use_awaitable);
    std::vector<HttpResponse> responses;
    responses.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (!socket_.is_open()) throw std::runtime_error("connection closed mid-pipeline");
      responses.push_back(co_await ReadResponse());
    }
    co_return responses;
  } catch (...) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    throw;
  }
}

awaitable<void> HttpConnection::ConnectIfClosed() {
  if (socket_.is_open()) co_return;
  buffer_.clear();
  co_await socket_.async_connect(endpoint_, use_awaitable);
  // Requests are small and sent whole; Nagle would only add delay to each of them.
  socket_.set_option(tcp::no_delay(true));
}

awaitable<HttpResponse> HttpConnection::ReadResponse() {
  size_t header_bytes = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_),
                                                        "\r\n\r\n", use_awaitable);
  std::string_view head(buffer_.data(), header_bytes);

  HttpResponse response;
  // "HTTP/1.1 200 OK": the status code starts after the first space.
  size_t space = head.find(' ');
  if (!head.starts_with("HTTP/1.") || space == std::string_view::npos) {
    throw std::runtime_error("malformed status line");
  }
  response.status = std::atoi(head.data() + space + 1);

  std::optional<size_t> content_length;
  bool close_after = head.starts_with("HTTP/1.0");
  size_t line_start = head.find("\r\n") + 2;
  while (line_start < header_bytes - 2) {
    size_t line_end = head.find("\r\n", line_start);
    std::string_view line = head.substr(line_start, line_end - line_start);
    line_start = line_end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (EqualsIgnoreCase(name, "content-length")) {
      content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
    } else if (EqualsIgnoreCase(name, "connection")) {
      close_after = EqualsIgnoreCase(value, "close");
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      // Neither delayq nor the nginx reference sends chunked bodies for these requests.
      throw std::runtime_error("chunked responses are not supported");
    }
  }
  if (!content_length) throw std::runtime_error("response without Content-Length");

  size_t needed = header_bytes + *content_length;
  if (buffer_.size() < needed) {
    co_await asio::async_read(socket_, asio::dynamic_buffer(buffer_),
                              asio::transfer_exactly(needed - buffer_.size()), use_awaitable);
  }
  response.body.assign(buffer_, header_bytes, *content_length);
  buffer_.erase(0, needed);
  if (close_after) {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  co_return response;
}

std::string PostRequest(std::string_view path, std::string_view host, std::string_view body) {
  std::string request;
  request.reserve(160 + body.size());
  request += "POST ";
  request += path;
  request += " HTTP/1.1\r\nHost: ";
  request += host;
  request += "\r\nContent-Type: application/json\r\nContent-Length: ";
  request += std::to_string(body.size());
  request += "\r\n\r\n";
  request += body;
  return request;
}

std::string Describe(const std::exception& error) {
  if (const auto* system = dynamic_cast<const boost::system::system_error*>(&error)) {
    return system->code().message();
  }
  return error.what();
}

}  // namespace loadgen
