#include "http/multipart.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace pharos::http {
namespace {

using core::Error;
using core::ErrorCode;
using core::Status;

using Params = std::vector<std::pair<std::string, std::string>>;

// RFC 2046 allows at most 70 boundary characters.
constexpr std::size_t kMaxBoundary = 70;
// Transport padding allowed after a boundary before its line end; bounds the lookahead.
constexpr std::size_t kMaxBoundaryPadding = 256;

bool isOws(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

// RFC 9110 token characters (header and parameter names).
bool isTchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 2046 bcharsnospace, plus space (not allowed last).
bool isBoundaryChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// Parses the `; name=value` list after a media type or disposition type. Values are quoted
// strings (backslash escapes) or bare text up to the next ';' (lenient: boundaries commonly hold
// characters that are not tokens). Names are lower-cased. False when malformed.
bool parseParams(std::string_view s, Params& out) {
  std::size_t i = 0;
  auto skipOws = [&] {
    while (i < s.size() && isOws(s[i])) ++i;
  };
  while (true) {
    skipOws();
    if (i == s.size()) return true;
    if (s[i] != ';') return false;
    ++i;
    skipOws();
    if (i == s.size()) return true;  // a trailing ';' is harmless
    std::size_t name_start = i;
    while (i < s.size() && isTchar(s[i])) ++i;
    if (i == name_start) return false;
    std::string name = lower(s.substr(name_start, i - name_start));
    skipOws();
    if (i == s.size() || s[i] != '=') return false;
    ++i;
    skipOws();
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      while (true) {
        if (i == s.size()) return false;
        char c = s[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i == s.size()) return false;
          c = s[i++];
        }
        value += c;
      }
    } else {
      std::size_t end = s.find(';', i);
      if (end == std::string_view::npos) end = s.size();
      value = std::string(trim(s.substr(i, end - i)));
      i = end;
    }
    out.emplace_back(std::move(name), std::move(value));
  }
}

const std::string* findParam(const Params& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

// Splits "type; params" into the trimmed type and the parameter text.
std::pair<std::string_view, std::string_view> splitType(std::string_view value) {
  std::size_t semi = value.find(';');
  if (semi == std::string_view::npos) return {trim(value), {}};
  return {trim(value.substr(0, semi)), value.substr(semi)};
}

std::string quoted(std::string_view name) {
  return "\"" + std::string(name) + "\"";
}

}  // namespace

core::Result<std::string> multipartBoundary(std::string_view content_type) {
  auto [type, rest] = splitType(content_type);
  if (!iequals(type, "multipart/form-data")) {
    return Error::invalidArgument("expected Content-Type multipart/form-data, got " + quoted(type));
  }
  Params params;
  if (!parseParams(rest, params)) {
    return Error::invalidArgument("malformed parameters in multipart Content-Type");
  }
  const std::string* boundary = findParam(params, "boundary");
  if (boundary == nullptr || boundary->empty()) {
    return Error::invalidArgument("multipart Content-Type has no boundary parameter");
  }
  if (boundary->size() > kMaxBoundary) {
    return Error::invalidArgument("multipart boundary is " + std::to_string(boundary->size()) +
                                  " characters; at most 70 are allowed");
  }
  if (!std::all_of(boundary->begin(), boundary->end(), isBoundaryChar) || boundary->back() == ' ') {
    return Error::invalidArgument("multipart boundary has characters RFC 2046 does not allow");
  }
  return *boundary;
}

MultipartParser::MultipartParser(std::string boundary, MultipartSink& sink, MultipartLimits limits)
    : boundary_(std::move(boundary)),
      delimiter_("\n--" + boundary_),
      sink_(sink),
      limits_(limits) {}

std::size_t MultipartParser::offsetOf(std::size_t index) const {
  std::size_t absolute = erased_ + index;
  return absolute == 0 ? 0 : absolute - 1;  // the virtual leading '\n' is not a body byte
}

std::string MultipartParser::where(std::size_t index) const {
  std::string out = " at byte " + std::to_string(offsetOf(index));
  if (!current_.name.empty()) out += " in part " + quoted(current_.name);
  return out;
}

Status MultipartParser::fail(Error error) {
  // The sink's own errors pass through unchanged; the parser's say where they come from.
  if (!sink_failed_) error.message = "multipart: " + error.message;
  error_ = error;
  return error;
}

Status MultipartParser::feed(std::string_view chunk) {
  if (error_) return *error_;
  if (finished_) return fail(Error::internal("feed() after finish()"));
  if (state_ == State::kEpilogue) return {};  // the epilogue is ignored
  buf_.append(chunk);
  Status status = process();
  // Drop consumed bytes once per chunk (not per part) so the work stays linear in the input.
  buf_.erase(0, pos_);
  erased_ += pos_;
  pos_ = 0;
  if (!status) return fail(std::move(status).error());
  return {};
}

Status MultipartParser::finish() {
  if (error_) return *error_;
  finished_ = true;
  switch (state_) {
    case State::kEpilogue:
      return {};
    case State::kPreamble:
      return fail(Error::invalidArgument("missing first boundary " + quoted("--" + boundary_)));
    default:
      return fail(
          Error::invalidArgument("truncated body: no closing boundary" + where(buf_.size())));
  }
}

Status MultipartParser::process() {
  bool progressed = true;
  while (progressed && state_ != State::kEpilogue) {
    progressed = false;
    if (Status s = step(progressed); !s) return s;
  }
  return {};
}

Status MultipartParser::step(bool& progressed) {
  const std::string_view buf(buf_);
  switch (state_) {
    case State::kPreamble: {
      std::size_t found = buf.find(delimiter_, pos_);
      if (found == std::string_view::npos) {
        // Keep only what could be the start of the delimiter.
        std::size_t keep = delimiter_.size() - 1;
        if (buf.size() - pos_ > keep) pos_ = buf.size() - keep;
        return {};
      }
      pos_ = found + delimiter_.size();
      state_ = State::kAfterDelimiter;
      progressed = true;
      return {};
    }
    case State::kAfterDelimiter:
      return afterDelimiter(progressed);
    case State::kHeaders: {
      std::size_t newline = buf.find('\n', pos_);
      if (newline == std::string_view::npos) {
        if (header_bytes_ + (buf.size() - pos_) > limits_.max_header_bytes) {
          return Error{ErrorCode::kTooLarge, "part headers exceed " +
                                                 std::to_string(limits_.max_header_bytes) +
                                                 " bytes" + where(pos_)};
        }
        return {};
      }
      header_bytes_ += newline + 1 - pos_;
      if (header_bytes_ > limits_.max_header_bytes) {
        return Error{ErrorCode::kTooLarge, "part headers exceed " +
                                               std::to_string(limits_.max_header_bytes) + " bytes" +
                                               where(pos_)};
      }
      std::string_view line = buf.substr(pos_, newline - pos_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      std::size_t line_start = pos_;
      pos_ = newline + 1;
      progressed = true;
      if (line.empty()) return beginPart();
      return headerLine(line, line_start);
    }
    case State::kBodyStart: {
      // A part with no body may put its delimiter right after the blank line, whose '\n' was
      // consumed with the headers, so "--boundary" alone closes the part here.
      std::string_view bare = std::string_view(delimiter_).substr(1);
      std::size_t avail = std::min(buf.size() - pos_, bare.size());
      if (buf.substr(pos_, avail) != bare.substr(0, avail)) {
        state_ = State::kBody;
      } else if (avail < bare.size()) {
        return {};  // could still be the delimiter
      } else {
        pos_ += bare.size();
        state_ = State::kAfterDelimiter;
        if (Status s = endPart(); !s) return s;
      }
      progressed = true;
      return {};
    }
    case State::kBody: {
      std::size_t found = buf.find(delimiter_, pos_);
      if (found == std::string_view::npos) {
        // Everything but a delimiter-length tail (a possible partial delimiter and its '\r')
        // is part data.
        if (buf.size() - pos_ > delimiter_.size()) {
          std::size_t to = buf.size() - delimiter_.size();
          if (Status s = emit(pos_, to); !s) return s;
          pos_ = to;
        }
        return {};
      }
      std::size_t end = found;
      if (end > pos_ && buf[end - 1] == '\r') --end;
      if (Status s = emit(pos_, end); !s) return s;
      pos_ = found + delimiter_.size();
      state_ = State::kAfterDelimiter;
      progressed = true;
      return endPart();
    }
    case State::kEpilogue:
      return {};
  }
  return {};
}

Status MultipartParser::afterDelimiter(bool& progressed) {
  const std::string_view buf(buf_);
  std::size_t avail = buf.size() - pos_;
  if (avail == 0) return {};
  if (buf[pos_] == '-') {
    if (avail < 2) return {};
    if (buf[pos_ + 1] == '-') {
      // The closing delimiter: whatever follows is the epilogue.
      pos_ = buf.size();
      state_ = State::kEpilogue;
      progressed = true;
      return {};
    }
  }
  std::size_t i = pos_;
  while (i < buf.size() && isOws(buf[i])) ++i;
  if (i - pos_ > kMaxBoundaryPadding) {
    return Error::invalidArgument("malformed boundary line" + where(pos_));
  }
  if (i == buf.size()) return {};
  std::size_t line_end = 0;
  if (buf[i] == '\n') {
    line_end = i + 1;
  } else if (buf[i] == '\r') {
    if (i + 1 == buf.size()) return {};
    if (buf[i + 1] != '\n') return Error::invalidArgument("malformed boundary line" + where(pos_));
    line_end = i + 2;
  } else {
    return Error::invalidArgument("malformed boundary line" + where(pos_));
  }
  if (parts_ == limits_.max_parts) {
    return Error{ErrorCode::kTooLarge,
                 "more than " + std::to_string(limits_.max_parts) + " parts" + where(pos_)};
  }
  ++parts_;
  pos_ = line_end;
  state_ = State::kHeaders;
  header_bytes_ = 0;
  current_ = PartHeaders{};
  has_disposition_ = false;
  progressed = true;
  return {};
}

Status MultipartParser::headerLine(std::string_view line, std::size_t line_offset) {
  std::size_t colon = line.find(':');
  std::string_view name =
      colon == std::string_view::npos ? std::string_view{} : line.substr(0, colon);
  if (name.empty() || !std::all_of(name.begin(), name.end(), isTchar)) {
    return Error::invalidArgument("malformed part header line" + where(line_offset));
  }
  std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "content-disposition")) {
    if (has_disposition_) {
      return Error::invalidArgument("duplicate Content-Disposition" + where(line_offset));
    }
    auto [type, rest] = splitType(value);
    Params params;
    if (!iequals(type, "form-data") || !parseParams(rest, params)) {
      return Error::invalidArgument("invalid Content-Disposition (want form-data; name=\"...\")" +
                                    where(line_offset));
    }
    const std::string* part_name = findParam(params, "name");
    if (part_name == nullptr || part_name->empty()) {
      return Error::invalidArgument("Content-Disposition has no name" + where(line_offset));
    }
    current_.name = *part_name;
    if (const std::string* filename = findParam(params, "filename")) current_.filename = *filename;
    has_disposition_ = true;
  } else if (iequals(name, "content-type")) {
    current_.content_type = std::string(value);
  } else if (iequals(name, "content-length")) {
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t length = 0;
    bool valid = !value.empty();
    for (char c : value) {
      if (c < '0' || c > '9' || length > (kMax - 9) / 10) {
        valid = false;
        break;
      }
      length = length * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!valid) return Error::invalidArgument("invalid Content-Length" + where(line_offset));
    current_.content_length = length;
  }
  current_.headers.emplace_back(std::string(name), std::string(value));
  return {};
}

Status MultipartParser::beginPart() {
  if (!has_disposition_) {
    return Error::invalidArgument("part has no Content-Disposition" + where(pos_));
  }
  if (current_.content_length && *current_.content_length > limits_.max_part_bytes) {
    return Error{ErrorCode::kTooLarge, "part " + quoted(current_.name) + " declares " +
                                           std::to_string(*current_.content_length) +
                                           " bytes; the limit is " +
                                           std::to_string(limits_.max_part_bytes)};
  }
  part_bytes_ = 0;
  state_ = State::kBodyStart;
  return fromSink(sink_.onPartBegin(current_));
}

Status MultipartParser::emit(std::size_t from, std::size_t to) {
  if (from >= to) return {};
  std::size_t size = to - from;
  if (size > limits_.max_part_bytes - part_bytes_) {
    return Error{ErrorCode::kTooLarge, "part " + quoted(current_.name) + " exceeds " +
                                           std::to_string(limits_.max_part_bytes) + " bytes"};
  }
  part_bytes_ += size;
  return fromSink(sink_.onPartData(std::string_view(buf_).substr(from, size)));
}

Status MultipartParser::endPart() {
  if (current_.content_length && *current_.content_length != part_bytes_) {
    return Error::invalidArgument("part " + quoted(current_.name) + " has Content-Length " +
                                  std::to_string(*current_.content_length) + " but " +
                                  std::to_string(part_bytes_) + " bytes");
  }
  return fromSink(sink_.onPartEnd());
}

Status MultipartParser::fromSink(Status status) {
  if (!status) sink_failed_ = true;
  return status;
}

namespace {

class CollectingSink : public MultipartSink {
 public:
  Status onPartBegin(const PartHeaders& headers) override {
    parts.push_back(Part{headers, {}});
    return {};
  }
  Status onPartData(std::string_view data) override {
    parts.back().body.append(data);
    return {};
  }
  Status onPartEnd() override { return {}; }

  std::vector<Part> parts;
};

}  // namespace

core::Result<std::vector<Part>> parseMultipart(std::string_view body, std::string_view boundary,
                                               MultipartLimits limits) {
  CollectingSink sink;
  MultipartParser parser(std::string(boundary), sink, limits);
  if (Status s = parser.feed(body); !s) return std::move(s).error();
  if (Status s = parser.finish(); !s) return std::move(s).error();
  return std::move(sink.parts);
}

}  // namespace pharos::http
