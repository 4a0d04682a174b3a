// multipart/form-data (RFC 7578 over RFC 2046) for the LangSmith multipart ingest endpoint
// (`POST /runs/multipart`) and the multipart examples endpoint. The LangSmith client streams
// these bodies with chunked transfer-encoding, so the parser is incremental: it is fed arbitrary
// chunks, keeps only a boundary-length lookbehind, and hands each part's bytes to a sink as they
// arrive instead of buffering the whole body. Every limit is explicit so hostile input is bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace pharos::http {

// The boundary parameter of a `multipart/form-data` Content-Type (quoted or not). kInvalidArgument
// when the type is not multipart/form-data or the boundary is missing, empty, longer than 70
// characters or has characters RFC 2046 does not allow.
core::Result<std::string> multipartBoundary(std::string_view content_type);

struct MultipartLimits {
  std::size_t max_header_bytes = 16 * 1024;       // per part, header lines included CRLFs
  std::size_t max_parts = 100'000;                // per body
  std::size_t max_part_bytes = 64 * 1024 * 1024;  // per part body; kTooLarge past it
};

struct PartHeaders {
  std::string name;                             // Content-Disposition name, never empty
  std::optional<std::string> filename;          // Content-Disposition filename, when sent
  std::string content_type;                     // as sent, parameters included; empty when absent
  std::optional<std::uint64_t> content_length;  // when sent; the body must match it
  // Every header line of the part, in order, names as sent (the ones above included).
  std::vector<std::pair<std::string, std::string>> headers;
};

// Receives the parts in order. A non-ok Status aborts parsing and is returned by feed()/finish().
class MultipartSink {
 public:
  virtual ~MultipartSink() = default;
  virtual core::Status onPartBegin(const PartHeaders& headers) = 0;
  // Called zero or more times per part, never with empty data.
  virtual core::Status onPartData(std::string_view data) = 0;
  virtual core::Status onPartEnd() = 0;
};

// Incremental parser. Feed the body in chunks of any size, then call finish(). After the first
// error every later call returns that error. Bytes after the closing boundary (the epilogue) and
// before the first one (the preamble) are ignored. Lines may end in CRLF or a bare LF.
class MultipartParser {
 public:
  MultipartParser(std::string boundary, MultipartSink& sink, MultipartLimits limits = {});

  core::Status feed(std::string_view chunk);
  // kInvalidArgument when the body ended before the closing boundary.
  core::Status finish();

  // True once the closing boundary has been seen.
  bool complete() const { return state_ == State::kEpilogue; }

 private:
  enum class State { kPreamble, kAfterDelimiter, kHeaders, kBodyStart, kBody, kEpilogue };

  core::Status process();
  core::Status step(bool& progressed);
  core::Status afterDelimiter(bool& progressed);
  core::Status headerLine(std::string_view line, std::size_t line_offset);
  core::Status beginPart();
  core::Status emit(std::size_t from, std::size_t to);
  core::Status endPart();
  core::Status fail(core::Error error);
  core::Status fromSink(core::Status status);
  std::size_t offsetOf(std::size_t index) const;
  std::string where(std::size_t index) const;

  std::string boundary_;
  std::string delimiter_;  // "\n--" + boundary; a preceding '\r' is stripped from the data
  MultipartSink& sink_;
  MultipartLimits limits_;

  State state_ = State::kPreamble;
  // Unconsumed bytes start at buf_[pos_]. buf_ starts with a virtual '\n' so that a boundary at
  // the very start of the body matches the delimiter; offsetOf() hides it from messages.
  std::string buf_ = "\n";
  std::size_t pos_ = 0;
  std::size_t erased_ = 0;  // bytes dropped from the front of buf_ so far
  std::size_t parts_ = 0;
  std::size_t header_bytes_ = 0;
  std::size_t part_bytes_ = 0;
  PartHeaders current_;
  bool has_disposition_ = false;
  bool finished_ = false;
  bool sink_failed_ = false;
  std::optional<core::Error> error_;
};

struct Part {
  PartHeaders headers;
  std::string body;
};

// Parses a whole body (small bodies and tests): every part with its body collected.
core::Result<std::vector<Part>> parseMultipart(std::string_view body, std::string_view boundary,
                                               MultipartLimits limits = {});

}  // namespace pharos::http
