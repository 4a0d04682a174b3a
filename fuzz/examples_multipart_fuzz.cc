// Fuzzes the LangSmith multipart examples decoder (eval::decodeExamplesMultipart), the body of
// `POST|PATCH /api/v1/platform/datasets/{id}/examples`.
//
// Input format (seeds in corpus/examples_multipart/ are readable files in it): everything up to
// the first '\n' is the boundary, the rest is the body. The request's Content-Type is
// `multipart/form-data; boundary=<first line>`, so a bad first line exercises the Content-Type
// errors. The body is decoded both as a create (POST) and as an update (PATCH).
//
// Invariants beyond "no crash, no UB": errors are kInvalidArgument or kTooLarge with a message;
// every decoded id is a lower-case UUID and ids are unique; a create that decodes has inputs on
// every example and also decodes as an update (update only relaxes the rules) to the same
// examples; decoding twice gives the same result.
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/ids.h"
#include "eval/api/examples_multipart.h"

namespace {

using namespace pharos;

void check(bool condition) {
  if (!condition) std::abort();
}

std::string optionalJson(const std::optional<boost::json::object>& value) {
  return value ? boost::json::serialize(*value) : "-";
}

// A canonical text of a decode result, to compare two decodes.
std::string describe(const core::Result<std::vector<eval::ExampleUpload>>& result,
                     bool with_operations) {
  if (!result.ok()) {
    return "E" + std::to_string(static_cast<int>(result.error().code)) + result.error().message;
  }
  std::string out;
  for (const auto& example : *result) {
    out += example.id + "|" + optionalJson(example.inputs) + "|" + optionalJson(example.outputs) +
           "|" + optionalJson(example.metadata) + "|" + example.source_run_id.value_or("-") + "|" +
           example.created_at.value_or("-") + "|" + (example.use_source_run_io ? "1" : "0") +
           (example.use_source_run_attachments ? "1" : "0");
    for (const auto& split : example.splits) out += "|s:" + split;
    for (const auto& a : example.attachments) {
      out +=
          "|a:" + a.name + ":" + a.mime_type + ":" + std::to_string(a.data.size()) + ":" + a.data;
    }
    if (with_operations) out += "|" + optionalJson(example.attachments_operations);
    out += "\n";
  }
  return out;
}

void checkResult(const core::Result<std::vector<eval::ExampleUpload>>& result, bool for_update) {
  if (!result.ok()) {
    const auto code = result.error().code;
    check(code == core::ErrorCode::kInvalidArgument || code == core::ErrorCode::kTooLarge);
    check(!result.error().message.empty());
    return;
  }
  check(result->size() <= eval::kMaxExamplesPerBody);
  std::unordered_set<std::string> ids;
  for (const auto& example : *result) {
    check(core::isUuid(example.id));
    for (char c : example.id) check(!(c >= 'A' && c <= 'F'));
    check(ids.insert(example.id).second);
    if (!for_update) check(example.inputs.has_value() && !example.attachments_operations);
    if (example.source_run_id) check(core::isUuid(*example.source_run_id));
    if (example.use_source_run_io) check(example.source_run_id.has_value());
    std::unordered_set<std::string> names;
    for (const auto& a : example.attachments) {
      check(!a.name.empty() && !a.mime_type.empty());
      check(names.insert(a.name).second);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string content_type =
      "multipart/form-data; boundary=" + std::string(input.substr(0, newline));
  const std::string_view body = input.substr(newline + 1);

  const auto create = eval::decodeExamplesMultipart(body, content_type, false);
  const auto update = eval::decodeExamplesMultipart(body, content_type, true);
  checkResult(create, false);
  checkResult(update, true);
  check(describe(create, true) ==
        describe(eval::decodeExamplesMultipart(body, content_type, false), true));
  check(describe(update, true) ==
        describe(eval::decodeExamplesMultipart(body, content_type, true), true));
  if (create.ok()) check(update.ok() && describe(create, true) == describe(update, true));
  return 0;
}
