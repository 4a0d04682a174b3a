// Fuzzes bounded inflation (http::inflate) with arbitrary bytes as gzip and as deflate, with a
// small output limit so gzip bombs hit kTooLarge quickly. Then a round trip: the input compressed
// by zlib as gzip and as zlib-wrapped deflate must inflate back to exactly the input.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/content_coding.h"

namespace {

using namespace pharos;

constexpr std::size_t kLimit = 256 * 1024;

void check(bool condition) {
  if (!condition) std::abort();
}

void inflateArbitrary(std::string_view bytes, http::ContentCoding coding) {
  core::Result<std::string> out = http::inflate(bytes, coding, kLimit);
  if (out) {
    check(out->size() <= kLimit);
  } else {
    check(out.error().code == core::ErrorCode::kTooLarge ||
          out.error().code == core::ErrorCode::kInvalidArgument);
    check(!out.error().message.empty());
  }
}

// window_bits: 16 + MAX_WBITS for gzip, MAX_WBITS for the zlib wrapper.
std::string compress(std::string_view input, int window_bits) {
  z_stream zs{};
  check(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(input.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  check(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void roundTrip(std::string_view input, http::ContentCoding coding, int window_bits) {
  const std::string compressed = compress(input, window_bits);
  core::Result<std::string> out = http::inflate(compressed, coding, kLimit);
  if (input.size() <= kLimit) {
    check(out.ok() && *out == input);
  } else {
    check(!out.ok() && out.error().code == core::ErrorCode::kTooLarge);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  inflateArbitrary(bytes, http::ContentCoding::kGzip);
  inflateArbitrary(bytes, http::ContentCoding::kDeflate);
  inflateArbitrary(bytes, http::ContentCoding::kIdentity);
  (void)http::parseContentCoding(bytes.substr(0, 32));

  roundTrip(bytes, http::ContentCoding::kGzip, 16 + MAX_WBITS);
  roundTrip(bytes, http::ContentCoding::kDeflate, MAX_WBITS);
  // Two gzip members back to back are one valid gzip body.
  const std::string gzip = compress(bytes, 16 + MAX_WBITS);
  core::Result<std::string> twice = http::inflate(gzip + gzip, http::ContentCoding::kGzip, kLimit);
  if (2 * size <= kLimit) check(twice.ok() && *twice == std::string(bytes) + std::string(bytes));
  return 0;
}
