#include "eval/api/examples_multipart.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <charconv>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/ids.h"
#include "core/json_text.h"
#include "http/multipart.h"

namespace pharos::eval {
namespace {

using core::Error;
using core::ErrorCode;

// Part names are client text: quote them as JSON strings so control bytes stay readable.
std::string partError(std::string_view part, std::string_view problem) {
  return "examples multipart: part " + core::jsonString(part) + ": " + std::string(problem);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

core::Result<boost::json::object> parseObject(std::string_view part, std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = kMaxExampleJsonDepth;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec, {}, options);
  if (ec) return Error::invalidArgument(partError(part, "not valid JSON (" + ec.message() + ")"));
  if (!value.is_object()) return Error::invalidArgument(partError(part, "must be a JSON object"));
  return std::move(value.as_object());
}

// The attachment part's Content-Type is "<mime>; length=<n>": the mime type without parameters,
// and a length parameter, when sent, must match the bytes (a truncated upload must not be stored).
core::Result<std::string> attachmentMime(std::string_view part, std::string_view content_type,
                                         std::size_t size) {
  const std::size_t semi = content_type.find(';');
  std::string mime = lower(trim(content_type.substr(0, semi)));
  std::string_view params = semi == std::string_view::npos ? "" : content_type.substr(semi + 1);
  while (!params.empty()) {
    const std::size_t next = params.find(';');
    const std::string_view param = trim(params.substr(0, next));
    params = next == std::string_view::npos ? "" : params.substr(next + 1);
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos || lower(trim(param.substr(0, eq))) != "length") continue;
    const std::string_view digits = trim(param.substr(eq + 1));
    std::size_t length = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec != std::errc{} || end != digits.data() + digits.size()) {
      return Error::invalidArgument(partError(
          part,
          "Content-Type length parameter " + core::jsonString(digits) + " is not a byte count"));
    }
    if (length != size) {
      return Error::invalidArgument(
          partError(part, "Content-Type says length=" + std::to_string(length) +
                              " but the part has " + std::to_string(size) + " bytes"));
    }
  }
  if (mime.empty()) mime = "application/octet-stream";
  return mime;
}

// The `{id}` part: {created_at?, metadata?, split?, source_run_id?, use_source_run_io?,
// use_source_run_attachments?}. null means absent (other SDKs send it); unknown fields are
// ignored so that newer clients keep working.
core::Status applyExampleBody(std::string_view part, const boost::json::object& body,
                              ExampleUpload& example) {
  auto bad = [&](std::string_view field, std::string_view problem) {
    return Error::invalidArgument(
        partError(part, "\"" + std::string(field) + "\" " + std::string(problem)));
  };
  if (const auto* v = body.if_contains("created_at"); v && !v->is_null()) {
    if (!v->is_string()) return bad("created_at", "must be a string");
    example.created_at = std::string(v->as_string());
  }
  if (const auto* v = body.if_contains("metadata"); v && !v->is_null()) {
    if (!v->is_object()) return bad("metadata", "must be an object");
    example.metadata = v->as_object();
  }
  if (const auto* v = body.if_contains("split"); v && !v->is_null()) {
    if (v->is_string()) {
      example.splits.emplace_back(v->as_string());
    } else if (v->is_array()) {
      for (const auto& item : v->as_array()) {
        if (!item.is_string()) return bad("split", "must be a string or an array of strings");
        example.splits.emplace_back(item.as_string());
      }
    } else {
      return bad("split", "must be a string or an array of strings");
    }
    for (const auto& split : example.splits) {
      if (split.empty()) return bad("split", "has an empty split name");
    }
  }
  if (const auto* v = body.if_contains("source_run_id"); v && !v->is_null()) {
    if (!v->is_string() || !core::isUuid(v->as_string()))
      return bad("source_run_id", "must be a UUID");
    example.source_run_id = lower(v->as_string());
  }
  if (const auto* v = body.if_contains("use_source_run_io"); v && !v->is_null()) {
    if (!v->is_bool()) return bad("use_source_run_io", "must be a boolean");
    example.use_source_run_io = v->as_bool();
  }
  if (const auto* v = body.if_contains("use_source_run_attachments"); v && !v->is_null()) {
    if (!v->is_bool()) return bad("use_source_run_attachments", "must be a boolean");
    example.use_source_run_attachments = v->as_bool();
  }
  if (example.use_source_run_io && !example.source_run_id) {
    return bad("use_source_run_io", "needs \"source_run_id\"");
  }
  return {};
}

// {rename?: {old: new}, retain?: [names]}: checked here so the store only sees well-formed ones.
core::Status checkAttachmentOperations(std::string_view part, const boost::json::object& ops) {
  for (const auto& [key, value] : ops) {
    if (key == "rename") {
      if (value.is_null()) continue;
      if (!value.is_object())
        return Error::invalidArgument(partError(part, "\"rename\" must be an object"));
      for (const auto& [from, to] : value.as_object()) {
        if (from.empty() || !to.is_string() || to.as_string().empty()) {
          return Error::invalidArgument(
              partError(part, "\"rename\" must map attachment names to non-empty names"));
        }
      }
    } else if (key == "retain") {
      if (value.is_null()) continue;
      if (!value.is_array())
        return Error::invalidArgument(partError(part, "\"retain\" must be an array"));
      for (const auto& name : value.as_array()) {
        if (!name.is_string() || name.as_string().empty()) {
          return Error::invalidArgument(
              partError(part, "\"retain\" must list non-empty attachment names"));
        }
      }
    } else {
      return Error::invalidArgument(partError(
          part, "unknown operation " + core::jsonString(key) + " (expected rename, retain)"));
    }
  }
  return {};
}

// Which parts an example has received, to refuse duplicates (two `.inputs` would make the
// stored example depend on part order).
struct Seen {
  bool body = false, inputs = false, outputs = false, operations = false;
  std::unordered_set<std::string> attachments;
};

}  // namespace

core::Result<std::vector<ExampleUpload>> decodeExamplesMultipart(std::string_view body,
                                                                 std::string_view content_type,
                                                                 bool for_update) {
  auto boundary = http::multipartBoundary(content_type);
  if (!boundary) return boundary.error();
  // Parts per example vary (attachments); the body size limit bounds the total anyway.
  http::MultipartLimits limits;
  limits.max_parts = kMaxExamplesPerBody * 10;
  auto parts = http::parseMultipart(body, *boundary, limits);
  if (!parts) {
    return Error{parts.error().code, "examples multipart: " + parts.error().message};
  }

  std::vector<ExampleUpload> examples;
  std::vector<Seen> seen;
  std::unordered_map<std::string, std::size_t> index_of;
  for (http::Part& part : *parts) {
    const std::string& name = part.headers.name;
    const std::size_t dot = name.find('.');
    const std::string_view id_text = std::string_view(name).substr(0, dot);
    if (!core::isUuid(id_text)) {
      return Error::invalidArgument(partError(
          name, "name must start with the example's UUID (\"{id}\", \"{id}.inputs\", ...)"));
    }
    std::string id = lower(id_text);
    auto [it, inserted] = index_of.try_emplace(id, examples.size());
    if (inserted) {
      if (examples.size() == kMaxExamplesPerBody) {
        return Error{ErrorCode::kTooLarge, "examples multipart: more than " +
                                               std::to_string(kMaxExamplesPerBody) +
                                               " examples in one body"};
      }
      examples.emplace_back().id = std::move(id);
      seen.emplace_back();
    }
    ExampleUpload& example = examples[it->second];
    Seen& got = seen[it->second];
    const std::string_view suffix =
        dot == std::string::npos ? std::string_view{} : std::string_view(name).substr(dot + 1);
    auto duplicate = [&] { return Error::invalidArgument(partError(name, "sent twice")); };

    if (dot == std::string::npos) {
      if (got.body) return duplicate();
      got.body = true;
      auto object = parseObject(name, part.body);
      if (!object) return object.error();
      if (auto status = applyExampleBody(name, *object, example); !status) return status.error();
    } else if (suffix == "inputs" || suffix == "outputs") {
      const bool is_inputs = suffix == "inputs";
      if (is_inputs ? got.inputs : got.outputs) return duplicate();
      (is_inputs ? got.inputs : got.outputs) = true;
      auto object = parseObject(name, part.body);
      if (!object) return object.error();
      (is_inputs ? example.inputs : example.outputs) = std::move(*object);
    } else if (suffix == "attachments_operations") {
      if (!for_update) {
        return Error::invalidArgument(
            partError(name, "attachments_operations is only accepted when updating examples"));
      }
      if (got.operations) return duplicate();
      got.operations = true;
      auto object = parseObject(name, part.body);
      if (!object) return object.error();
      if (auto status = checkAttachmentOperations(name, *object); !status) return status.error();
      example.attachments_operations = std::move(*object);
    } else if (suffix.starts_with("attachment.")) {
      std::string attachment_name(suffix.substr(std::string_view("attachment.").size()));
      if (attachment_name.empty()) {
        return Error::invalidArgument(partError(name, "attachment name is empty"));
      }
      if (!got.attachments.insert(attachment_name).second) return duplicate();
      auto mime = attachmentMime(name, part.headers.content_type, part.body.size());
      if (!mime) return mime.error();
      example.attachments.push_back(
          {std::move(attachment_name), std::move(*mime), std::move(part.body)});
    } else {
      return Error::invalidArgument(partError(
          name, "unknown part suffix " + core::jsonString(suffix) +
                    " (expected inputs, outputs, attachment.<name>, attachments_operations)"));
    }
  }

  if (!for_update) {
    for (const ExampleUpload& example : examples) {
      if (!example.inputs) {
        return Error::invalidArgument(
            partError(example.id + ".inputs", "missing: every new example needs inputs"));
      }
    }
  }
  return examples;
}

}  // namespace pharos::eval
