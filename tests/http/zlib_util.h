// Test-side compression, done with zlib directly so the code under test does not check itself.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pharos::http::test_util {

enum class Wrapper { kGzip, kZlib, kRaw };

inline int windowBits(Wrapper wrapper) {
  switch (wrapper) {
    case Wrapper::kGzip:
      return 16 + MAX_WBITS;
    case Wrapper::kZlib:
      return MAX_WBITS;
    case Wrapper::kRaw:
      return -MAX_WBITS;
  }
  return MAX_WBITS;
}

// Compresses `repeat` copies of `chunk` as one stream, feeding it piece by piece so that a huge
// input (a gzip bomb) never exists in memory.
inline std::string compressRepeated(std::string_view chunk, std::size_t repeat, Wrapper wrapper,
                                    int level = Z_DEFAULT_COMPRESSION,
                                    int strategy = Z_DEFAULT_STRATEGY) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, windowBits(wrapper), 8, strategy) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out;
  char buffer[64 * 1024];
  auto pump = [&](int flush) {
    int rc = Z_OK;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buffer);
      zs.avail_out = sizeof(buffer);
      rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) throw std::runtime_error("deflate failed");
      out.append(buffer, sizeof(buffer) - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  };
  for (std::size_t i = 0; i < repeat; ++i) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
    zs.avail_in = static_cast<uInt>(chunk.size());
    pump(Z_NO_FLUSH);
  }
  zs.next_in = nullptr;
  zs.avail_in = 0;
  pump(Z_FINISH);
  deflateEnd(&zs);
  return out;
}

inline std::string compress(std::string_view data, Wrapper wrapper) {
  return compressRepeated(data, 1, wrapper);
}

inline std::string gzip(std::string_view data) {
  return compress(data, Wrapper::kGzip);
}
inline std::string zlibDeflate(std::string_view data) {
  return compress(data, Wrapper::kZlib);
}

// `size` bytes that do not compress (so a compressed body stays about as large as the input).
inline std::string incompressible(std::size_t size) {
  std::string out(size, '\0');
  std::uint32_t state = 2463534242u;  // xorshift32: deterministic, no repeats within the size
  for (char& c : out) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    c = static_cast<char>(state & 0xff);
  }
  return out;
}

}  // namespace pharos::http::test_util
