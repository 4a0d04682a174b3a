// Fuzzes what the gateway's stages read from untrusted bytes: an upstream's event stream through
// the usage stage's filter (which finds usage and takes out the usage-only chunk), and a client's
// request body through the cache's key and semantic query and Pharos's token count. The first
// byte picks the mode and a split point. Invariants beyond "no crash, no UB": the usage filter
// gives the same bytes and the same usage whether the stream comes whole, in two pieces or byte by
// byte; the cache key is 64 hex digits and the same for the same request.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/cache_stage.h"
#include "gateway/token_count.h"
#include "gateway/usage_stage.h"
#include "http/metrics.h"

namespace {

using namespace pharos;

void check(bool condition) {
  if (!condition) std::abort();
}

struct Result {
  std::string bytes;
  std::optional<gateway::CallUsage> usage;
};

Result filterStream(gateway::UsageStage& stage, std::string_view stream, bool strip,
                    std::size_t piece) {
  gateway::Call call;
  call.record.model = "gpt-4o";
  call.strip_stream_usage = strip;
  auto filter = stage.streamFilter(call);
  Result result;
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    std::string bytes(stream.substr(at, piece));
    filter->onData(bytes);
    result.bytes += bytes;
  }
  std::string tail;
  filter->onEnd(tail);
  result.bytes += tail;
  result.usage = call.record.usage;
  return result;
}

bool sameUsage(const std::optional<gateway::CallUsage>& a,
               const std::optional<gateway::CallUsage>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a ||
         (a->prompt_tokens == b->prompt_tokens && a->completion_tokens == b->completion_tokens &&
          a->cached_prompt_tokens == b->cached_prompt_tokens && a->counted == b->counted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    static http::MetricsRegistry metrics;
    static gateway::UsageStage stage(
        std::make_shared<economics::PriceTable>(economics::PriceTable::builtIn()), metrics);
    const bool strip = data[0] & 2;
    const Result whole = filterStream(stage, input, strip, input.size() + 1);
    const std::size_t split = 1 + (data[0] >> 2) % (input.size() + 1);
    const Result halves = filterStream(stage, input, strip, split);
    const Result bytes = filterStream(stage, input, strip, 1);
    check(halves.bytes == whole.bytes && bytes.bytes == whole.bytes);
    check(sameUsage(halves.usage, whole.usage) && sameUsage(bytes.usage, whole.usage));
    if (!strip) check(whole.bytes == input);  // only the usage-only chunk is ever taken out
    return 0;
  }
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(input, ec);
  if (ec || !parsed.is_object()) return 0;
  gateway::Call call;
  call.fields = std::move(parsed.get_object());
  call.record.model = "gpt-4o";
  const std::string key = gateway::exactCacheKey(call);
  check(key.size() == 64 && key == gateway::exactCacheKey(call));
  if (auto query = gateway::semanticQuery(call)) check(query->scope.size() == 64);
  check(gateway::countRequestTokens("gpt-4o", call.fields, true) >= 0);
  check(gateway::countRequestTokens("text-embedding-3-small", call.fields, false) >= 0);
  return 0;
}
