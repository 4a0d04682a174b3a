#include "integration/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pharos::testing {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// Parses the head in `head` (without the final blank line). False when malformed.
bool parseHead(std::string_view head, HttpResponse& response, std::string& error) {
  const std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    error = "malformed status line: " + std::string(status_line);
    return false;
  }
  const std::string_view code = status_line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    error = "malformed status code: " + std::string(status_line);
    return false;
  }
  response.status = std::stoi(std::string(code));
  response.reason = status_line.size() > 13 ? std::string(status_line.substr(13)) : "";
  response.headers.clear();
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(pos, end - pos);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      error = "malformed header line: " + std::string(line);
      return false;
    }
    response.headers.emplace_back(lower(line.substr(0, colon)),
                                  std::string(trim(line.substr(colon + 1))));
    pos = end + 2;
  }
  return true;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const std::string wanted = lower(name);
  for (const auto& [key, value] : headers) {
    if (key == wanted) return value;
  }
  return std::nullopt;
}

std::size_t HttpResponse::headerCount(std::string_view name) const {
  const std::string wanted = lower(name);
  return static_cast<std::size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const auto& header) { return header.first == wanted; }));
}

boost::json::value HttpResponse::json() const {
  return boost::json::parse(body);
}

HttpConnection::HttpConnection(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const sockaddr_in address = loopback(port);
  int rc;
  do {
    rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " +
                             std::strerror(error));
  }
  // Small writes (byte-by-byte slowloris) must leave at once, not be coalesced.
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

HttpConnection::HttpConnection(HttpConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      close_kind_(other.close_kind_),
      last_error_(std::move(other.last_error_)) {}

HttpConnection& HttpConnection::operator=(HttpConnection&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    close_kind_ = other.close_kind_;
    last_error_ = std::move(other.last_error_);
  }
  return *this;
}

HttpConnection::~HttpConnection() {
  close();
}

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HttpConnection::resetAndClose() {
  if (fd_ < 0) return;
  const linger abort_on_close{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  close();
}

bool HttpConnection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      last_error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool HttpConnection::fill(Clock::time_point deadline) {
  if (close_kind_ != CloseKind::kOpen) {
    last_error_ = "connection closed by the server";
    return false;
  }
  for (;;) {
    const auto left = std::chrono::duration_cast<Milliseconds>(deadline - Clock::now());
    pollfd pfd{fd_, POLLIN, 0};
    const int ready =
        ::poll(&pfd, 1, static_cast<int>(std::max<Milliseconds::rep>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      last_error_ = "timed out waiting for the server";
      return false;
    }
    char chunk[16 * 1024];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    close_kind_ = n == 0 ? CloseKind::kEof : CloseKind::kReset;
    last_error_ = n == 0 ? "connection closed by the server (EOF)"
                         : std::string("connection reset: ") + std::strerror(errno);
    return false;
  }
}

std::optional<HttpResponse> HttpConnection::readResponse(Milliseconds timeout, bool head_request) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    HttpResponse response;
    if (!parseHead(std::string_view(buffer_).substr(0, head_end), response, last_error_)) {
      return std::nullopt;
    }
    buffer_.erase(0, head_end + 4);
    if (response.status >= 100 && response.status < 200) continue;  // 100 Continue and friends

    const bool no_body = head_request || response.status == 204 || response.status == 304;
    const auto transfer_encoding = response.header("transfer-encoding");
    const auto content_length = response.header("content-length");
    if (no_body) return response;
    if (transfer_encoding && lower(*transfer_encoding).find("chunked") != std::string::npos) {
      response.chunked = true;
      for (;;) {
        std::size_t line_end;
        while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
          if (!fill(deadline)) return std::nullopt;
        }
        const std::string size_text = buffer_.substr(0, buffer_.find_first_of(";\r"));
        std::size_t size = 0;
        try {
          size = std::stoul(size_text, nullptr, 16);
        } catch (const std::exception&) {
          last_error_ = "malformed chunk size: " + size_text;
          return std::nullopt;
        }
        buffer_.erase(0, line_end + 2);
        if (size == 0) {
          // Trailers, then a blank line.
          std::size_t trailer_end;
          while ((trailer_end = buffer_.find("\r\n")) != 0) {
            if (trailer_end == std::string::npos) {
              if (!fill(deadline)) return std::nullopt;
            } else {
              buffer_.erase(0, trailer_end + 2);
            }
          }
          buffer_.erase(0, 2);
          return response;
        }
        while (buffer_.size() < size + 2) {
          if (!fill(deadline)) return std::nullopt;
        }
        response.body.append(buffer_, 0, size);
        buffer_.erase(0, size + 2);
      }
    }
    if (content_length) {
      std::size_t length = 0;
      try {
        length = std::stoul(*content_length);
      } catch (const std::exception&) {
        last_error_ = "malformed Content-Length: " + *content_length;
        return std::nullopt;
      }
      while (buffer_.size() < length) {
        if (!fill(deadline)) return std::nullopt;
      }
      response.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
      return response;
    }
    // Neither length nor chunking: the body runs to the end of the connection.
    while (fill(deadline)) {
    }
    if (close_kind_ == CloseKind::kOpen) return std::nullopt;
    response.body = std::move(buffer_);
    buffer_.clear();
    return response;
  }
}

bool HttpConnection::readUntil(std::string_view marker, Milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (buffer_.find(marker) == std::string::npos) {
    if (!fill(deadline)) return false;
  }
  return true;
}

bool HttpConnection::waitForClose(Milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (fill(deadline)) {
  }
  return close_kind_ != CloseKind::kOpen;
}

bool HttpConnection::closedByPeer() {
  return waitForClose(Milliseconds(0));
}

std::string buildRequest(std::string_view method, std::string_view target, const Headers& headers,
                         std::string_view body) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  bool has_host = false;
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    has_host = has_host || lower(name) == "host";
    has_length =
        has_length || lower(name) == "content-length" || lower(name) == "transfer-encoding";
  }
  if (!has_host) out += "Host: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers)
    out.append(name).append(": ").append(value).append("\r\n");
  if (!body.empty() && !has_length)
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  out.append(body);
  return out;
}

HttpResponse fetch(std::uint16_t port, std::string_view method, std::string_view target,
                   const Headers& headers, std::string_view body) {
  HttpConnection connection(port);
  Headers all = headers;
  all.emplace_back("Connection", "close");
  if (!connection.send(buildRequest(method, target, all, body))) {
    throw std::runtime_error(std::string(method) + " " + std::string(target) + ": " +
                             connection.lastError());
  }
  auto response = connection.readResponse(kDefaultTimeout, method == "HEAD");
  if (!response) {
    throw std::runtime_error(std::string(method) + " " + std::string(target) +
                             ": no complete response: " + connection.lastError());
  }
  return std::move(*response);
}

bool connectionRefused(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in address = loopback(port);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const bool refused = rc != 0 && errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

}  // namespace pharos::testing
