// A run as the columns of the `runs` table and its side tables (run_tags, run_metadata, run_text),
// and the way back. Building a row is pure CPU work, so ingest routes do it on their I/O thread and
// the writer thread only binds values; only a run that already exists is re-read and re-built on
// the writer (to merge).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "economics/pricing.h"
#include "tracing/run.h"
#include "tracing/store/stored_json.h"

namespace pharos::tracing {

// At most this many metadata keys of one run are indexed (the rest stay in extra, unindexed).
inline constexpr std::size_t kMaxIndexedMetadata = 64;
// Longer metadata values stay in extra but are not indexed (prompts captured as span attributes
// would otherwise bloat the index; nobody filters on a 10 KB equality).
inline constexpr std::size_t kMaxIndexedMetadataValueBytes = 1024;
// The full-text index keeps at most this many bytes of one payload's text.
inline constexpr std::size_t kMaxIndexedTextBytes = 8 * 1024;

struct RunRow {
  RunFields fields;  // merged and derived; the source of every column below
  std::string status;
  bool is_root = false;
  std::optional<std::string> thread_id;
  std::optional<double> prompt_cost;
  std::optional<double> completion_cost;
  std::optional<double> total_cost;
  std::string figure_sources;  // JSON object text, "" when the run has no figures
  std::string tags_json;       // JSON array text, "" when the run has no tags
  std::optional<StoredJson> inputs, outputs, events, extra, serialized;
  std::vector<std::pair<std::string, std::string>> metadata;  // indexed key/value pairs
};

// The row for `merged` (derived fields already computed by deriveUsage), priced by `prices`.
RunRow buildRunRow(RunFields merged, const economics::PriceTable& prices);

// The (key, value) pairs run_metadata holds for a run: the top-level keys of extra.metadata, at
// most kMaxIndexedMetadata, values no longer than kMaxIndexedMetadataValueBytes.
std::vector<std::pair<std::string, std::string>> indexedMetadata(const RunFields& run);

// The searchable text of a payload: its name, error and every string and number in its inputs and
// outputs, separated by newlines and cut at kMaxIndexedTextBytes. "" when it carries none of these.
std::string searchableText(const RunFields& payload);

// The value run_metadata stores for a metadata value: a string as itself, anything else as its
// compact JSON text. The filter compiler converts literals the same way.
std::string metadataIndexValue(const boost::json::value& value);

// The stored JSON column back as a value (text or compressed blob). kInternal when damaged.
core::Result<boost::json::value> loadStoredJson(std::string_view bytes, bool compressed);

}  // namespace pharos::tracing
