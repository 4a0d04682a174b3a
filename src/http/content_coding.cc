#include "http/content_coding.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <limits>

namespace pharos::http {

using core::Error;
using core::ErrorCode;

namespace {

std::string trimLower(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

core::Result<ContentCoding> parseContentCoding(std::string_view header) {
  const std::string coding = trimLower(header);
  if (coding.empty() || coding == "identity") return ContentCoding::kIdentity;
  if (coding == "gzip" || coding == "x-gzip") return ContentCoding::kGzip;
  if (coding == "deflate") return ContentCoding::kDeflate;
  return Error{ErrorCode::kInvalidArgument,
               fmt::format("unsupported Content-Encoding \"{}\"; send gzip, deflate or identity",
                           coding.substr(0, 64))};
}

core::Result<std::string> inflate(std::string_view encoded, ContentCoding coding,
                                  std::size_t max_output) {
  if (coding == ContentCoding::kIdentity) {
    if (encoded.size() > max_output) {
      return Error{ErrorCode::kTooLarge, "request body exceeds the size limit"};
    }
    return std::string(encoded);
  }
  z_stream zs{};
  // 16+: gzip wrapper only; 32+: auto-detect gzip or zlib (what "deflate" means in HTTP).
  const int window_bits = coding == ContentCoding::kGzip ? 16 + MAX_WBITS : 32 + MAX_WBITS;
  if (inflateInit2(&zs, window_bits) != Z_OK) return Error::internal("zlib init failed");
  struct Guard {
    z_stream* zs;
    ~Guard() { inflateEnd(zs); }
  } guard{&zs};

  const char* name = coding == ContentCoding::kGzip ? "gzip" : "deflate";
  // zlib counts in 32-bit uInt: input is fed and output offered in pieces it can count.
  constexpr std::size_t kMaxPiece = std::numeric_limits<uInt>::max();
  const auto* input = reinterpret_cast<const Bytef*>(encoded.data());
  std::size_t input_left = encoded.size();
  std::string out;
  out.resize(std::min<std::size_t>(std::max<std::size_t>(encoded.size() * 4, 4096), max_output));
  std::size_t produced = 0;
  while (true) {
    if (zs.avail_in == 0 && input_left > 0) {
      const std::size_t piece = std::min(input_left, kMaxPiece);
      zs.next_in = const_cast<Bytef*>(input);
      zs.avail_in = static_cast<uInt>(piece);
      input += piece;
      input_left -= piece;
    }
    if (produced == out.size()) {
      if (out.size() >= max_output) {
        return Error{
            ErrorCode::kTooLarge,
            fmt::format("{} request body inflates beyond the limit of {} bytes", name, max_output)};
      }
      out.resize(std::min(out.size() * 2, max_output));
    }
    const std::size_t offered = std::min(out.size() - produced, kMaxPiece);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(offered);
    const int rc = ::inflate(&zs, Z_NO_FLUSH);
    produced += offered - zs.avail_out;
    const bool input_done = zs.avail_in == 0 && input_left == 0;
    if (rc == Z_STREAM_END) {
      if (input_done) break;
      // Another gzip member follows (concatenated streams are valid gzip).
      if (coding != ContentCoding::kGzip || inflateReset(&zs) != Z_OK) {
        return Error::invalidArgument(fmt::format("{} request body has trailing data", name));
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && input_done) {
      return Error::invalidArgument(fmt::format("{} request body is truncated", name));
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Error::invalidArgument(
          fmt::format("{} request body is corrupt: {}", name, zs.msg ? zs.msg : "invalid data"));
    }
  }
  out.resize(produced);
  return out;
}

}  // namespace pharos::http
