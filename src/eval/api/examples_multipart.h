// Decoder of the LangSmith multipart examples body: what langsmith 0.10.5's `createExamples` /
// `uploadExamplesMultipart` send to `POST /api/v1/platform/datasets/{id}/examples` and
// `updateExamplesMultipart` to `PATCH` on the same path (docs/plans/evaluation.md §1 row 3, §2.2).
// Pure and allocation-bounded by the body, so a route can run it on the I/O thread.
//
// Per example the client sends these form-data parts, each with `filename="blob"`:
//   {id}                          application/json  {created_at?, metadata?, split?,
//   source_run_id?,
//                                                    use_source_run_io?,
//                                                    use_source_run_attachments?}
//   {id}.inputs                   application/json  object (required when creating)
//   {id}.outputs                  application/json  object
//   {id}.attachment.{name}        <mime>; length=n  raw bytes
//   {id}.attachments_operations   application/json  {rename?: {old: new}, retain?: [names]} (PATCH)
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace pharos::eval {

// Examples per body; past it the body is refused (kTooLarge) rather than decoded.
inline constexpr std::size_t kMaxExamplesPerBody = 100'000;
// Nesting depth accepted in the JSON parts (Boost.JSON's default of 32 is too low for real data).
inline constexpr std::size_t kMaxExampleJsonDepth = 512;

struct ExampleAttachment {
  std::string name;       // after "{id}.attachment."; never empty
  std::string mime_type;  // the part's Content-Type without parameters; octet-stream when absent
  std::string data;
};

struct ExampleUpload {
  std::string id;  // from the part names: a UUID, lower-cased
  std::optional<boost::json::object> inputs, outputs, metadata;
  std::vector<std::string> splits;  // the `{id}` part's "split" (string or array of strings)
  std::optional<std::string> source_run_id;  // lower-cased UUID
  std::optional<std::string> created_at;     // as sent; the route parses the time
  bool use_source_run_io = false;
  bool use_source_run_attachments = false;
  std::vector<ExampleAttachment> attachments;  // in part order
  // PATCH only: validated as {rename?: {string: string}, retain?: [string]}.
  std::optional<boost::json::object> attachments_operations;
};

// Decodes the whole body. `content_type` is the request's (multipart/form-data with a boundary).
// `for_update` (PATCH): inputs may be absent and `.attachments_operations` parts are allowed.
// Examples come back in the order their first part appeared. Errors are kInvalidArgument (kTooLarge
// past kMaxExamplesPerBody or a parser limit) and name the offending part: unknown suffix, non-UUID
// id, a JSON part that is not a JSON object, a bad field of the `{id}` part, missing inputs when
// creating, a duplicate part.
core::Result<std::vector<ExampleUpload>> decodeExamplesMultipart(std::string_view body,
                                                                 std::string_view content_type,
                                                                 bool for_update);

}  // namespace pharos::eval
