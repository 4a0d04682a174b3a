// The LangSmith run model: a run as the `langsmith` client sends it (POST /runs, PATCH /runs/{id},
// the `post`/`patch` arrays of /runs/batch, the `post.{id}` parts of /runs/multipart), parsed,
// validated, merged by id and enriched with derived figures. Pure functions, no I/O.
//
// Presence: every wire field is a std::optional; nullopt means "the client did not send it", so a
// patch only touches what it carries. For scalar fields (strings, times, tags) a JSON null is
// treated as absent, because clients send null for "unknown", never to erase. JSON-valued fields
// (inputs, outputs, events, extra, serialized, attachments) keep an explicit null as a present
// boost::json::value null, so a patch can clear outputs/events; inputs are never cleared (below).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace pharos::tracing {

// Whether a payload creates a run or updates one. Merging depends on it (see mergeInto).
enum class RunOp { kPost, kPatch };

enum class RunStatus { kPending, kSuccess, kError };
std::string_view runStatusName(RunStatus status);  // "pending", "success", "error"

// Where a derived token figure came from: sent by the client, or computed from the other two.
enum class FigureSource { kReported, kComputed };

struct TokenFigure {
  std::int64_t value = 0;
  FigureSource source = FigureSource::kReported;
  bool operator==(const TokenFigure&) const = default;
};

struct Run {
  // ---- wire fields (presence tracked by optional) ----
  std::string id;  // lower-case UUID; empty only for a PATCH body whose id lives in the path
  std::optional<std::string> trace_id;       // lower-case UUID
  std::optional<std::string> parent_run_id;  // lower-case UUID; absent for roots
  std::optional<std::string> dotted_order;   // uuids lower-cased; string order = tree order
  std::optional<std::string> name;
  std::optional<std::string> run_type;  // tool, chain, llm, retriever, embedding, prompt, parser
  std::optional<std::string> session_name;
  std::optional<std::string> session_id;   // lower-case UUID (the JS SDK never sends it)
  std::optional<std::int64_t> start_time;  // Unix microseconds, UTC
  std::optional<std::int64_t> end_time;    // Unix microseconds, UTC
  std::optional<std::string> error;
  std::optional<boost::json::value> inputs;       // object
  std::optional<boost::json::value> outputs;      // object or null
  std::optional<boost::json::value> events;       // array or null
  std::optional<boost::json::value> extra;        // object or null; extra.metadata is the metadata
  std::optional<boost::json::value> serialized;   // object or null
  std::optional<boost::json::value> attachments;  // as sent inline (multipart sends parts instead)
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> reference_example_id;  // lower-case UUID

  // True for a parsed post, and for a stored record once a post has been merged in: a record built
  // only from patches is still waiting for its post (the client may deliver a patch first).
  bool posted = false;

  // ---- derived (deriveUsage fills them; mergeInto leaves them alone) ----
  RunStatus status = RunStatus::kPending;
  std::optional<double> latency_seconds;
  std::optional<std::string> model;
  std::optional<TokenFigure> prompt_tokens;
  std::optional<TokenFigure> completion_tokens;
  std::optional<TokenFigure> total_tokens;

  bool operator==(const Run&) const = default;
};

// The wire form and the stored form are the same struct: a stored run is the merge of its posts
// and patches.
using RunFields = Run;

struct ParsedRun {
  RunFields run;
  // One line per unknown top-level field, e.g. "unknown field ignored: foo". Unknown fields are
  // not errors: newer clients add fields and rejecting them would drop whole traces.
  std::vector<std::string> warnings;
};

// Parses and validates one run payload. `path_id` is the id from PATCH /runs/{id} (or the part
// name of a multipart `post.{id}`): when given it fills a missing body id and must match a present
// one. Errors are kInvalidArgument with a message naming the field, e.g.
//   id: not a UUID: "abc"
//   start_time: expected an ISO-8601 string or epoch milliseconds
// A post must carry an id (in the body or path); a patch needs one from either place as well.
core::Result<ParsedRun> parseRunJson(const boost::json::value& json, RunOp op,
                                     std::string_view path_id = {});

// Merges one parsed payload `incoming` into `stored` (same id, else kInvalidArgument). Whether
// `incoming` is a post or a patch is read from incoming.posted (parseRunJson sets it). A patch
// overwrites what it carries; a post only fills what is still missing. Hence a post and a patch
// converge to the same record whichever arrives first. Special rules:
//  * inputs: a patch never clears them; absent, null or {} inputs in a patch are ignored.
//  * extra: merged key by key (patch keys win) and extra.metadata merged key by key likewise, so
//    neither side's metadata is lost.
//  * tags: union, the post's tags first in their order, then the patch's new ones.
// A store starts a new record as an empty RunFields carrying only the id and merges every payload
// into it (the first one included), so a patch-first record also drops its empty inputs.
// Derived fields are not touched; call deriveUsage afterwards.
core::Status mergeInto(RunFields& stored, const RunFields& incoming);

// Computes every derived field from the wire fields: status (error if error is non-empty, success
// if end_time is set, else pending), latency_seconds (end - start, when both and end >= start),
// and for runs with run_type "llm" the model and token figures. Token sources, first hit wins:
// outputs.usage_metadata, outputs.llm_output.token_usage, extra.metadata.usage_metadata, then an
// OpenAI-shaped outputs.usage. A figure sent is kReported; a missing total (or part) computed from
// the other two is kComputed. Model: extra.metadata.ls_model_name, extra.invocation_params.model /
// model_name, outputs.model, outputs.response_metadata.model_name, outputs.llm_output.model_name.
void deriveUsage(RunFields& run);

// extra.metadata when it is an object, else nullptr.
const boost::json::object* runMetadata(const RunFields& run);

}  // namespace pharos::tracing
