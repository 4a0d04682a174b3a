#include "tracing/store/stored_json.h"

#include <zlib.h>

#include <cstdint>
#include <limits>

namespace pharos::tracing {

namespace {
constexpr std::size_t kLengthPrefix = 4;
// A stored text never exceeds the request body limit; this bounds what a damaged prefix can ask
// us to allocate.
constexpr std::uint32_t kMaxDecompressed = 512u << 20;
}  // namespace

StoredJson encodeStoredJson(std::string json_text) {
  if (json_text.size() <= kCompressJsonAbove ||
      json_text.size() > std::numeric_limits<std::uint32_t>::max()) {
    return {std::move(json_text), false};
  }
  uLongf capacity = compressBound(static_cast<uLong>(json_text.size()));
  std::string out(kLengthPrefix + capacity, '\0');
  const auto length = static_cast<std::uint32_t>(json_text.size());
  for (std::size_t i = 0; i < kLengthPrefix; ++i) {
    out[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  }
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data() + kLengthPrefix), &capacity,
                           reinterpret_cast<const Bytef*>(json_text.data()),
                           static_cast<uLong>(json_text.size()), 1);
  if (rc != Z_OK || kLengthPrefix + capacity > json_text.size() * 3 / 4) {
    return {std::move(json_text), false};
  }
  out.resize(kLengthPrefix + capacity);
  return {std::move(out), true};
}

core::Result<std::string> decompressStoredJson(std::string_view blob) {
  if (blob.size() < kLengthPrefix) {
    return core::Error::internal("stored JSON blob is shorter than its length prefix");
  }
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < kLengthPrefix; ++i) {
    length |= static_cast<std::uint32_t>(static_cast<unsigned char>(blob[i])) << (8 * i);
  }
  if (length > kMaxDecompressed) {
    return core::Error::internal("stored JSON blob claims an impossible length");
  }
  std::string out(length, '\0');
  uLongf produced = length;
  const int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &produced,
                            reinterpret_cast<const Bytef*>(blob.data() + kLengthPrefix),
                            static_cast<uLong>(blob.size() - kLengthPrefix));
  if (rc != Z_OK || produced != length) {
    return core::Error::internal("stored JSON blob does not decompress");
  }
  return out;
}

store::sqlite::Statement& bindStoredJson(store::sqlite::Statement& s, int index,
                                         const StoredJson& value) {
  return value.compressed ? s.bindBlob(index, value.bytes) : s.bindText(index, value.bytes);
}

}  // namespace pharos::tracing
