// The LangSmith trace-ingest wire formats, decoded into prepared runs: the JSON body of
// POST /runs/batch ({"post": [...], "patch": [...]}) and the multipart/form-data body of
// POST /runs/multipart (parts post.{id}, patch.{id}, their .inputs/.outputs/.events/.extra/.error/
// .serialized parts, and attachment.{id}.{name}). Spec: langsmith-api.md §4.2-4.3.
//
// A bad run never sinks the batch: it is listed in `rejected` with the part or index it came
// from, and every other run goes on. Only a body that cannot be read at all is an error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "economics/pricing.h"
#include "tracing/store/run_store.h"

namespace pharos::tracing {

struct DecodedBatch {
  std::vector<PreparedRun> runs;
  std::vector<Attachment> attachments;
  std::vector<RejectedRun> rejected;
  std::vector<std::string> warnings;  // unknown fields, ignored
};

// kInvalidArgument when the body is not a JSON object.
core::Result<DecodedBatch> decodeBatchBody(std::string_view body,
                                           const economics::PriceTable& prices);

// kInvalidArgument when the multipart framing is broken (no closing boundary, bad headers, ...),
// kTooLarge when a part exceeds the limits.
core::Result<DecodedBatch> decodeMultipartBody(std::string_view body, std::string_view boundary,
                                               const economics::PriceTable& prices);

}  // namespace pharos::tracing
