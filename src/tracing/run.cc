#include "tracing/run.h"

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "core/ids.h"
#include "tracing/query/filter_validate.h"

namespace pharos::tracing {
namespace {

namespace json = boost::json;

using core::Error;

constexpr std::size_t kMaxRunTypeLength = 64;

// Fields the SDKs send that we know. child_runs is always [] from the JS SDK and the tree comes
// from parent_run_id/dotted_order, so it is accepted and dropped without a warning.
constexpr std::array<std::string_view, 20> kKnownFields = {"id",
                                                           "trace_id",
                                                           "parent_run_id",
                                                           "dotted_order",
                                                           "name",
                                                           "run_type",
                                                           "session_name",
                                                           "session_id",
                                                           "start_time",
                                                           "end_time",
                                                           "error",
                                                           "inputs",
                                                           "outputs",
                                                           "events",
                                                           "extra",
                                                           "serialized",
                                                           "attachments",
                                                           "tags",
                                                           "reference_example_id",
                                                           "child_runs"};

// Epoch milliseconds accepted for times: 0 up to 9999-12-31T23:59:59.999Z, the range of
// parseTimestampMicros, so both spellings cover the same instants.
constexpr double kMaxEpochMs = 253402300799999.0;

std::string lowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string quoted(std::string_view text) {
  return json::serialize(json::value(json::string_view(text.data(), text.size())));
}

// A present, non-null member or nullptr.
const json::value* member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return nullptr;
  return value;
}

core::Result<std::optional<std::string>> stringField(const json::object& object,
                                                     std::string_view key) {
  const json::value* value = member(object, key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) return Error::invalidArgument(std::string(key) + ": expected a string");
  return std::optional<std::string>(std::string(value->get_string()));
}

core::Result<std::optional<std::string>> uuidField(const json::object& object,
                                                   std::string_view key) {
  auto text = stringField(object, key);
  if (!text.ok() || !text->has_value()) return text;
  std::string lowered = lowerAscii(**text);
  if (!core::isUuid(lowered)) {
    return Error::invalidArgument(std::string(key) + ": not a UUID: " + quoted(**text));
  }
  return std::optional<std::string>(std::move(lowered));
}

core::Result<std::optional<std::int64_t>> timeField(const json::object& object,
                                                    std::string_view key) {
  const json::value* value = member(object, key);
  if (value == nullptr) return std::optional<std::int64_t>();
  const Error bad = Error::invalidArgument(std::string(key) +
                                           ": expected an ISO-8601 string or epoch milliseconds");
  if (value->is_string()) {
    const json::string& text = value->get_string();
    auto micros = query::parseTimestampMicros(std::string_view(text.data(), text.size()));
    if (!micros) return bad;
    return std::optional<std::int64_t>(*micros);
  }
  double ms = 0;
  if (value->is_int64()) {
    ms = static_cast<double>(value->get_int64());
  } else if (value->is_uint64()) {
    ms = static_cast<double>(value->get_uint64());
  } else if (value->is_double()) {
    ms = value->get_double();
  } else {
    return bad;
  }
  if (!std::isfinite(ms) || ms < 0 || ms > kMaxEpochMs) return bad;
  if (value->is_int64()) return std::optional<std::int64_t>(value->get_int64() * 1000);
  if (value->is_uint64()) {
    return std::optional<std::int64_t>(static_cast<std::int64_t>(value->get_uint64()) * 1000);
  }
  return std::optional<std::int64_t>(std::llround(ms * 1000.0));
}

// A JSON-valued field: kept as sent (including an explicit null) when its kind is allowed.
core::Result<std::optional<json::value>> jsonField(const json::object& object, std::string_view key,
                                                   json::kind want, bool null_ok) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return std::optional<json::value>();
  if (value->kind() == want || (null_ok && value->is_null())) {
    return std::optional<json::value>(*value);
  }
  const char* what = want == json::kind::object ? "an object" : "an array";
  return Error::invalidArgument(std::string(key) + ": expected " + what +
                                (null_ok ? " or null" : ""));
}

bool allDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Loose check of one segment "YYYYMMDDTHHMMSSffffffZ<uuid>": date digits, 'T', at least six time
// digits (the fraction length varies between SDKs), 'Z', a UUID. Returns the lower-cased uuid.
std::optional<std::string> dottedSegmentUuid(std::string_view segment) {
  constexpr std::size_t kUuidLength = 36;
  if (segment.size() < 8 + 1 + 6 + 1 + kUuidLength) return std::nullopt;
  const std::string_view stamp = segment.substr(0, segment.size() - kUuidLength);
  const std::string uuid = lowerAscii(segment.substr(segment.size() - kUuidLength));
  if (stamp.back() != 'Z' || stamp[8] != 'T' || !allDigits(stamp.substr(0, 8)) ||
      !allDigits(stamp.substr(9, stamp.size() - 10)) || !core::isUuid(uuid)) {
    return std::nullopt;
  }
  return uuid;
}

// Validates dotted_order against id and trace_id; lower-cases its uuids in place.
core::Status checkDottedOrder(std::string& dotted, const std::string& id,
                              const std::optional<std::string>& trace_id) {
  std::string normalised;
  std::string first_uuid;
  std::string last_uuid;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = dotted.find('.', start);
    const std::string_view segment =
        std::string_view(dotted).substr(start, dot == std::string::npos ? dot : dot - start);
    auto uuid = dottedSegmentUuid(segment);
    if (!uuid) {
      return Error::invalidArgument(
          "dotted_order: expected segments YYYYMMDDTHHMMSSffffffZ<uuid> joined by '.': " +
          quoted(dotted));
    }
    if (!normalised.empty()) normalised += '.';
    normalised.append(segment.substr(0, segment.size() - uuid->size()));
    normalised += *uuid;
    if (first_uuid.empty()) first_uuid = *uuid;
    last_uuid = std::move(*uuid);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!id.empty() && last_uuid != id) {
    return Error::invalidArgument("dotted_order: last segment's id " + last_uuid +
                                  " does not match the run id " + id);
  }
  if (trace_id && first_uuid != *trace_id) {
    return Error::invalidArgument("dotted_order: first segment's id " + first_uuid +
                                  " does not match trace_id " + *trace_id);
  }
  dotted = std::move(normalised);
  return {};
}

// Assigns a parsed optional field or propagates its error.
#define PHAROS_RUN_FIELD(target, expr)                              \
  do {                                                              \
    auto parsed_field = (expr);                                     \
    if (!parsed_field.ok()) return std::move(parsed_field).error(); \
    target = std::move(*parsed_field);                              \
  } while (false)

}  // namespace

std::string_view runStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kPending:
      return "pending";
    case RunStatus::kSuccess:
      return "success";
    case RunStatus::kError:
      return "error";
  }
  return "pending";
}

core::Result<ParsedRun> parseRunJson(const json::value& value, RunOp op, std::string_view path_id) {
  if (!value.is_object()) return Error::invalidArgument("run: expected a JSON object");
  const json::object& object = value.get_object();
  ParsedRun out;
  Run& run = out.run;
  run.posted = op == RunOp::kPost;

  std::optional<std::string> id;
  PHAROS_RUN_FIELD(id, uuidField(object, "id"));
  if (!path_id.empty()) {
    const std::string lowered = lowerAscii(path_id);
    if (!core::isUuid(lowered)) {
      return Error::invalidArgument("id: not a UUID: " + quoted(path_id));
    }
    if (id && *id != lowered) {
      return Error::invalidArgument("id: body id " + *id + " does not match the path id " +
                                    lowered);
    }
    id = lowered;
  }
  if (!id) return Error::invalidArgument("id: required");
  run.id = std::move(*id);

  PHAROS_RUN_FIELD(run.trace_id, uuidField(object, "trace_id"));
  PHAROS_RUN_FIELD(run.parent_run_id, uuidField(object, "parent_run_id"));
  PHAROS_RUN_FIELD(run.session_id, uuidField(object, "session_id"));
  PHAROS_RUN_FIELD(run.reference_example_id, uuidField(object, "reference_example_id"));
  PHAROS_RUN_FIELD(run.name, stringField(object, "name"));
  PHAROS_RUN_FIELD(run.session_name, stringField(object, "session_name"));
  PHAROS_RUN_FIELD(run.error, stringField(object, "error"));
  PHAROS_RUN_FIELD(run.run_type, stringField(object, "run_type"));
  // The client's types are tool, chain, llm, retriever, embedding, prompt and parser, but JS
  // callers can pass any string and LangSmith stores it: accept any short name.
  if (run.run_type && (run.run_type->empty() || run.run_type->size() > kMaxRunTypeLength)) {
    return Error::invalidArgument("run_type: expected a name of 1 to 64 characters");
  }
  PHAROS_RUN_FIELD(run.start_time, timeField(object, "start_time"));
  PHAROS_RUN_FIELD(run.end_time, timeField(object, "end_time"));
  PHAROS_RUN_FIELD(run.dotted_order, stringField(object, "dotted_order"));
  if (run.dotted_order) {
    auto checked = checkDottedOrder(*run.dotted_order, run.id, run.trace_id);
    if (!checked.ok()) return std::move(checked).error();
  }

  // inputs may be null in a Python post ("no inputs"); outputs/events/extra/serialized may be an
  // explicit null that a patch uses to clear.
  PHAROS_RUN_FIELD(run.inputs, jsonField(object, "inputs", json::kind::object, true));
  PHAROS_RUN_FIELD(run.outputs, jsonField(object, "outputs", json::kind::object, true));
  PHAROS_RUN_FIELD(run.events, jsonField(object, "events", json::kind::array, true));
  PHAROS_RUN_FIELD(run.extra, jsonField(object, "extra", json::kind::object, true));
  PHAROS_RUN_FIELD(run.serialized, jsonField(object, "serialized", json::kind::object, true));
  PHAROS_RUN_FIELD(run.attachments, jsonField(object, "attachments", json::kind::object, true));
  if (run.extra && run.extra->is_object()) {
    const json::value* metadata = run.extra->get_object().if_contains("metadata");
    if (metadata != nullptr && !metadata->is_object() && !metadata->is_null()) {
      return Error::invalidArgument("extra.metadata: expected an object");
    }
  }

  if (const json::value* tags = member(object, "tags")) {
    const Error bad = Error::invalidArgument("tags: expected an array of strings");
    if (!tags->is_array()) return bad;
    std::vector<std::string> list;
    for (const json::value& tag : tags->get_array()) {
      if (!tag.is_string()) return bad;
      list.emplace_back(tag.get_string());
    }
    run.tags = std::move(list);
  }

  for (const auto& entry : object) {
    const std::string_view key(entry.key().data(), entry.key().size());
    if (std::find(kKnownFields.begin(), kKnownFields.end(), key) == kKnownFields.end()) {
      out.warnings.push_back("unknown field ignored: " + std::string(key));
    }
  }
  return out;
}

namespace {

// Patch wins when it carries the field; a post only fills a gap.
template <class T>
void mergeScalar(std::optional<T>& stored, const std::optional<T>& incoming, bool is_patch) {
  if (incoming && (is_patch || !stored)) stored = incoming;
}

bool isEmptyInputs(const json::value& inputs) {
  return inputs.is_null() || (inputs.is_object() && inputs.get_object().empty());
}

// Key-by-key merge of two objects; `winner`'s keys override `loser`'s.
json::object mergeObjects(const json::object& loser, const json::object& winner) {
  json::object merged = loser;
  for (const auto& entry : winner) merged[entry.key()] = entry.value();
  return merged;
}

// extra: both objects -> keys merged (patch wins), metadata merged one level deeper likewise.
void mergeExtra(std::optional<json::value>& stored, const std::optional<json::value>& incoming,
                bool is_patch) {
  if (!incoming) return;
  if (!stored || !stored->is_object() || !incoming->is_object()) {
    mergeScalar(stored, incoming, is_patch);
    return;
  }
  const json::object& patch = is_patch ? incoming->get_object() : stored->get_object();
  const json::object& post = is_patch ? stored->get_object() : incoming->get_object();
  json::object merged = mergeObjects(post, patch);
  const json::value* post_md = post.if_contains("metadata");
  const json::value* patch_md = patch.if_contains("metadata");
  if (post_md != nullptr && patch_md != nullptr && post_md->is_object() && patch_md->is_object()) {
    merged["metadata"] = mergeObjects(post_md->get_object(), patch_md->get_object());
  }
  stored = json::value(std::move(merged));
}

void mergeTags(std::optional<std::vector<std::string>>& stored,
               const std::optional<std::vector<std::string>>& incoming, bool is_patch) {
  if (!incoming) return;
  if (!stored) {
    stored = incoming;
    return;
  }
  const std::vector<std::string>& first = is_patch ? *stored : *incoming;
  const std::vector<std::string>& second = is_patch ? *incoming : *stored;
  std::vector<std::string> merged;
  for (const auto* list : {&first, &second}) {
    for (const std::string& tag : *list) {
      if (std::find(merged.begin(), merged.end(), tag) == merged.end()) merged.push_back(tag);
    }
  }
  stored = std::move(merged);
}

}  // namespace

core::Status mergeInto(RunFields& stored, const RunFields& incoming) {
  if (stored.id != incoming.id) {
    return Error::invalidArgument("id: cannot merge run " + incoming.id + " into run " + stored.id);
  }
  const bool is_patch = !incoming.posted;
  mergeScalar(stored.trace_id, incoming.trace_id, is_patch);
  mergeScalar(stored.parent_run_id, incoming.parent_run_id, is_patch);
  mergeScalar(stored.dotted_order, incoming.dotted_order, is_patch);
  mergeScalar(stored.name, incoming.name, is_patch);
  mergeScalar(stored.run_type, incoming.run_type, is_patch);
  mergeScalar(stored.session_name, incoming.session_name, is_patch);
  mergeScalar(stored.session_id, incoming.session_id, is_patch);
  mergeScalar(stored.start_time, incoming.start_time, is_patch);
  mergeScalar(stored.end_time, incoming.end_time, is_patch);
  mergeScalar(stored.error, incoming.error, is_patch);
  mergeScalar(stored.reference_example_id, incoming.reference_example_id, is_patch);
  // The SDK omits inputs from patches (LANGSMITH_EXCLUDE_INPUTS_ON_PATCH) and some clients send {}
  // instead: neither may erase what the post recorded.
  if (incoming.inputs && !(is_patch && isEmptyInputs(*incoming.inputs))) {
    mergeScalar(stored.inputs, incoming.inputs, is_patch);
  }
  mergeScalar(stored.outputs, incoming.outputs, is_patch);
  mergeScalar(stored.events, incoming.events, is_patch);
  mergeScalar(stored.serialized, incoming.serialized, is_patch);
  mergeScalar(stored.attachments, incoming.attachments, is_patch);
  mergeExtra(stored.extra, incoming.extra, is_patch);
  mergeTags(stored.tags, incoming.tags, is_patch);
  stored.posted = stored.posted || incoming.posted;
  return {};
}

namespace {

const json::object* objectAt(const json::value* value, std::string_view key) {
  if (value == nullptr || !value->is_object()) return nullptr;
  const json::value* child = value->get_object().if_contains(key);
  return child != nullptr && child->is_object() ? &child->get_object() : nullptr;
}

const json::object* objectAt(const json::object* object, std::string_view key) {
  if (object == nullptr) return nullptr;
  const json::value* child = object->if_contains(key);
  return child != nullptr && child->is_object() ? &child->get_object() : nullptr;
}

// No call uses a trillion tokens; the cap keeps every sum of counts (totals, project stats over
// millions of runs) far from overflow.
constexpr std::int64_t kMaxTokenCount = 1'000'000'000'000;

// A non-negative integral count up to kMaxTokenCount, or nullopt (strings, fractions, negatives
// and absurd numbers are not counts).
std::optional<std::int64_t> countAt(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return std::nullopt;
  std::optional<std::int64_t> count;
  if (value->is_int64() && value->get_int64() >= 0) count = value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= static_cast<std::uint64_t>(kMaxTokenCount)) {
    count = static_cast<std::int64_t>(value->get_uint64());
  }
  if (value->is_double()) {
    const double d = value->get_double();
    if (d >= 0 && d <= static_cast<double>(kMaxTokenCount) && std::floor(d) == d) {
      count = static_cast<std::int64_t>(d);
    }
  }
  if (count && *count > kMaxTokenCount) return std::nullopt;
  return count;
}

std::optional<std::string> stringAt(const json::object* object, std::string_view key) {
  if (object == nullptr) return std::nullopt;
  const json::value* value = object->if_contains(key);
  if (value == nullptr || !value->is_string() || value->get_string().empty()) return std::nullopt;
  return std::string(value->get_string());
}

struct UsageSource {
  const json::object* object;
  std::string_view prompt_key;
  std::string_view completion_key;
};

void deriveTokens(RunFields& run) {
  const json::value* outputs = run.outputs ? &*run.outputs : nullptr;
  const json::value* extra = run.extra ? &*run.extra : nullptr;
  const json::object* usage = objectAt(outputs, "usage");
  const UsageSource sources[] = {
      {objectAt(outputs, "usage_metadata"), "input_tokens", "output_tokens"},
      {objectAt(objectAt(outputs, "llm_output"), "token_usage"), "prompt_tokens",
       "completion_tokens"},
      {objectAt(objectAt(extra, "metadata"), "usage_metadata"), "input_tokens", "output_tokens"},
      // OpenAI chat completions name the parts prompt/completion, the Responses API input/output.
      {usage,
       usage != nullptr && usage->contains("input_tokens") ? "input_tokens" : "prompt_tokens",
       usage != nullptr && usage->contains("output_tokens") ? "output_tokens"
                                                            : "completion_tokens"},
  };
  for (const UsageSource& source : sources) {
    if (source.object == nullptr) continue;
    auto prompt = countAt(*source.object, source.prompt_key);
    auto completion = countAt(*source.object, source.completion_key);
    auto total = countAt(*source.object, "total_tokens");
    if (!prompt && !completion && !total) continue;
    const auto reported = [](std::optional<std::int64_t> n) -> std::optional<TokenFigure> {
      if (!n) return std::nullopt;
      return TokenFigure{*n, FigureSource::kReported};
    };
    run.prompt_tokens = reported(prompt);
    run.completion_tokens = reported(completion);
    run.total_tokens = reported(total);
    if (!total && prompt && completion) {
      run.total_tokens = TokenFigure{*prompt + *completion, FigureSource::kComputed};
    } else if (total && prompt && !completion && *total >= *prompt) {
      run.completion_tokens = TokenFigure{*total - *prompt, FigureSource::kComputed};
    } else if (total && completion && !prompt && *total >= *completion) {
      run.prompt_tokens = TokenFigure{*total - *completion, FigureSource::kComputed};
    }
    return;
  }
}

std::optional<std::string> deriveModel(const RunFields& run) {
  const json::value* outputs = run.outputs ? &*run.outputs : nullptr;
  const json::value* extra = run.extra ? &*run.extra : nullptr;
  const json::object* params = objectAt(extra, "invocation_params");
  const json::object* outputs_object =
      outputs != nullptr && outputs->is_object() ? &outputs->get_object() : nullptr;
  for (auto candidate :
       {stringAt(objectAt(extra, "metadata"), "ls_model_name"), stringAt(params, "model"),
        stringAt(params, "model_name"), stringAt(outputs_object, "model"),
        stringAt(objectAt(outputs, "response_metadata"), "model_name"),
        stringAt(objectAt(outputs, "llm_output"), "model_name")}) {
    if (candidate) return candidate;
  }
  return std::nullopt;
}

}  // namespace

void deriveUsage(RunFields& run) {
  if (run.error && !run.error->empty()) {
    run.status = RunStatus::kError;
  } else if (run.end_time) {
    run.status = RunStatus::kSuccess;
  } else {
    run.status = RunStatus::kPending;
  }
  run.latency_seconds.reset();
  if (run.start_time && run.end_time) {
    // The JS SDK's end times are whole milliseconds while its start times carry execution-order
    // microseconds (from the dotted order), so a run that ends within its first millisecond can
    // end "before" it started: that is a latency of 0. An end earlier than that is bad data.
    constexpr std::int64_t kEndTimeResolution = 1000;
    const std::int64_t micros = *run.end_time - *run.start_time;
    if (micros > -kEndTimeResolution) {
      run.latency_seconds = static_cast<double>(std::max<std::int64_t>(micros, 0)) / 1e6;
    }
  }
  run.model.reset();
  run.prompt_tokens.reset();
  run.completion_tokens.reset();
  run.total_tokens.reset();
  if (run.run_type != "llm") return;
  run.model = deriveModel(run);
  deriveTokens(run);
}

const json::object* runMetadata(const RunFields& run) {
  if (!run.extra) return nullptr;
  return objectAt(&*run.extra, "metadata");
}

}  // namespace pharos::tracing
