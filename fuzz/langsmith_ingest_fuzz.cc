// Fuzzes the LangSmith ingest decoders (tracing/ingest): the first byte picks the body kind —
// even: a /runs/batch JSON body, odd: a /runs/multipart body with boundary "B". Invariants
// beyond "no crash, no UB": a body is either an error (kInvalidArgument or kTooLarge, with a
// message) or decodes into runs, attachments and rejections that account for itself: every
// prepared run has an origin and a non-empty id, and every rejection names its part and why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tracing/ingest/langsmith_ingest.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const pharos::economics::PriceTable prices = pharos::economics::PriceTable::builtIn();
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto batch = (data[0] & 1) == 0 ? pharos::tracing::decodeBatchBody(body, prices)
                                  : pharos::tracing::decodeMultipartBody(body, "B", prices);
  if (!batch.ok()) {
    using pharos::core::ErrorCode;
    check(batch.error().code == ErrorCode::kInvalidArgument ||
          batch.error().code == ErrorCode::kTooLarge);
    check(!batch.error().message.empty());
    return 0;
  }
  for (const auto& run : batch->runs) {
    check(!run.origin.empty());
    check(!run.payload.id.empty());
    check(run.new_row.fields.id == run.payload.id);
  }
  for (const auto& rejected : batch->rejected) {
    check(!rejected.origin.empty());
    check(!rejected.message.empty());
  }
  for (const auto& attachment : batch->attachments) {
    check(attachment.run_id.size() == 36);
    check(!attachment.name.empty());
  }
  return 0;
}
