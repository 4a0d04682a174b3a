// How the runs table keeps its large JSON columns (inputs, outputs, events, extra, serialized): as
// the JSON text itself (an SQLite TEXT value), or, when the text is large and compresses well, as
// a BLOB holding a 4-byte little-endian length of the text followed by its zlib stream. SQLite's
// typeof() (or Statement column type) tells the two apart, so no flag column is needed.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "store/sqlite/database.h"

namespace pharos::tracing {

// Texts shorter than this are stored as they are: compressing them saves little and costs time.
inline constexpr std::size_t kCompressJsonAbove = 2048;

struct StoredJson {
  std::string bytes;
  bool compressed = false;  // bind as a BLOB when true, as TEXT otherwise
};

// Compresses (zlib level 1) when the text is above kCompressJsonAbove and the result is at most
// 3/4 of its size; otherwise returns the text unchanged.
StoredJson encodeStoredJson(std::string json_text);

// The JSON text back from a compressed BLOB. kInternal when the blob is damaged.
core::Result<std::string> decompressStoredJson(std::string_view blob);

// Binds `value` as its column holds it: a BLOB when compressed, TEXT otherwise.
store::sqlite::Statement& bindStoredJson(store::sqlite::Statement& s, int index,
                                         const StoredJson& value);

}  // namespace pharos::tracing
