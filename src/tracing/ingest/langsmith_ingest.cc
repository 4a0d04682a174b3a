#include "tracing/ingest/langsmith_ingest.h"

#include <fmt/format.h>

#include <array>
#include <boost/json/parse.hpp>
#include <map>
#include <set>
#include <utility>

#include "core/ids.h"
#include "core/json_text.h"
#include "http/multipart.h"
#include "tracing/json_text.h"

namespace pharos::tracing {

namespace {

namespace json = boost::json;
using core::Error;

constexpr std::array<std::string_view, 6> kFieldParts = {"inputs", "outputs", "events",
                                                         "extra",  "error",   "serialized"};

void addParsed(DecodedBatch& batch, const json::value& value, RunOp op, std::string_view path_id,
               std::string origin, const economics::PriceTable& prices) {
  auto parsed = parseRunJson(value, op, path_id);
  if (!parsed) {
    batch.rejected.push_back({std::move(origin), parsed.error().message});
    return;
  }
  for (std::string& warning : parsed->warnings) {
    batch.warnings.push_back(origin + ": " + std::move(warning));
  }
  batch.runs.push_back(prepareRun(std::move(parsed->run), std::move(origin), prices));
}

// A multipart run being assembled from its parts.
struct PendingRun {
  RunOp op = RunOp::kPost;
  std::string id;
  std::string origin;  // the first part's name
  json::object fields;
  std::optional<std::string> error;  // the first problem with any of its parts
};

std::string lowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view withoutParameters(std::string_view content_type) {
  const std::size_t semicolon = content_type.find(';');
  std::string_view type = content_type.substr(0, semicolon);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return type;
}

}  // namespace

core::Result<DecodedBatch> decodeBatchBody(std::string_view body,
                                           const economics::PriceTable& prices) {
  boost::system::error_code ec;
  json::value root = parseRunJsonText(body, ec);
  if (ec) return Error::invalidArgument("body: not valid JSON: " + ec.message());
  if (!root.is_object())
    return Error::invalidArgument("body: expected a JSON object with post and patch arrays");
  DecodedBatch batch;
  for (const auto& item : root.get_object()) {
    const std::string_view key = item.key();
    if (key != "post" && key != "patch") {
      batch.warnings.push_back(fmt::format("unknown field ignored: {}", key));
      continue;
    }
    if (item.value().is_null()) continue;
    if (!item.value().is_array()) {
      return Error::invalidArgument(fmt::format("{}: expected an array of runs", key));
    }
    const RunOp op = key == "post" ? RunOp::kPost : RunOp::kPatch;
    std::size_t index = 0;
    for (const json::value& run : item.value().get_array()) {
      addParsed(batch, run, op, {}, fmt::format("{}[{}]", key, index++), prices);
    }
  }
  // Posts before patches whatever the key order, as the SDK intends: a patch then merges over
  // its post from the same request.
  std::stable_partition(batch.runs.begin(), batch.runs.end(),
                        [](const PreparedRun& run) { return run.payload.posted; });
  return batch;
}

core::Result<DecodedBatch> decodeMultipartBody(std::string_view body, std::string_view boundary,
                                               const economics::PriceTable& prices) {
  auto parts = http::parseMultipart(body, boundary);
  if (!parts) return std::move(parts).error();

  DecodedBatch batch;
  std::vector<PendingRun> pending;
  std::map<std::pair<RunOp, std::string>, std::size_t> index;
  const auto runFor = [&](RunOp op, const std::string& id,
                          const std::string& part_name) -> PendingRun& {
    auto [it, inserted] = index.try_emplace({op, id}, pending.size());
    if (inserted) pending.push_back(PendingRun{op, id, part_name, {}, std::nullopt});
    return pending[it->second];
  };

  for (http::Part& part : *parts) {
    const std::string& name = part.headers.name;
    const std::size_t first_dot = name.find('.');
    const std::string_view kind = std::string_view(name).substr(0, first_dot);
    if (first_dot == std::string::npos) {
      batch.rejected.push_back({name,
                                "unknown part (expected post.{id}, patch.{id} or "
                                "attachment.{id}.{name})"});
      continue;
    }
    const std::string_view rest = std::string_view(name).substr(first_dot + 1);
    if (kind == "attachment") {
      const std::size_t dot = rest.find('.');
      const std::string_view raw_id = rest.substr(0, dot);
      if (dot == std::string_view::npos || dot + 1 == rest.size()) {
        batch.rejected.push_back({name, "attachment part name must be attachment.{run_id}.{name}"});
        continue;
      }
      if (!core::isUuid(raw_id)) {
        batch.rejected.push_back(
            {name, fmt::format("attachment: run id is not a UUID: {}", core::jsonString(raw_id))});
        continue;
      }
      std::string id = lowerAscii(raw_id);
      const std::string_view type = withoutParameters(part.headers.content_type);
      batch.attachments.push_back({std::move(id), std::string(rest.substr(dot + 1)),
                                   type.empty() ? "application/octet-stream" : std::string(type),
                                   std::move(part.body)});
      continue;
    }
    if (kind != "post" && kind != "patch") {
      batch.rejected.push_back({name, fmt::format("unknown part kind {} (expected post, patch or "
                                                  "attachment)",
                                                  core::jsonString(kind))});
      continue;
    }
    const RunOp op = kind == "post" ? RunOp::kPost : RunOp::kPatch;
    const std::size_t dot = rest.find('.');
    const std::string id(rest.substr(0, dot));
    const std::string_view field =
        dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    PendingRun& run = runFor(op, id, name);
    if (run.error) continue;
    boost::system::error_code ec;
    json::value value = parseRunJsonText(part.body, ec);
    if (ec) {
      run.error = fmt::format("{}: not valid JSON: {}", name, ec.message());
      continue;
    }
    if (field.empty()) {
      if (!value.is_object()) {
        run.error = fmt::format("{}: expected a JSON object", name);
        continue;
      }
      // Field parts may come before or after the main part; the main part never overrides them.
      for (auto& item : value.get_object()) {
        if (!run.fields.contains(item.key())) run.fields[item.key()] = std::move(item.value());
      }
      continue;
    }
    if (std::find(kFieldParts.begin(), kFieldParts.end(), field) == kFieldParts.end()) {
      run.error = fmt::format(
          "{}: unknown run field part {} (expected one of inputs, outputs, "
          "events, extra, error, serialized)",
          name, core::jsonString(field));
      continue;
    }
    run.fields[field] = std::move(value);
  }

  std::set<std::string> rejected_ids;
  for (PendingRun& run : pending) {
    if (run.error) {
      batch.rejected.push_back({run.origin, *run.error});
      rejected_ids.insert(lowerAscii(run.id));
      continue;
    }
    addParsed(batch, json::value(std::move(run.fields)), run.op, run.id,
              std::string(run.op == RunOp::kPost ? "post." : "patch.") + run.id, prices);
  }
  // Parts whose run JSON could not be read: parseRunJson never saw their id, so drop them here.
  for (const RejectedRun& rejected : batch.rejected) {
    const std::string_view origin = rejected.origin;
    if (origin.starts_with("post.") || origin.starts_with("patch.")) {
      rejected_ids.insert(lowerAscii(origin.substr(origin.find('.') + 1, 36)));
    }
  }
  // An attachment of a rejected run is not stored without it.
  std::erase_if(batch.attachments,
                [&](const Attachment& a) { return rejected_ids.contains(a.run_id); });
  std::stable_partition(batch.runs.begin(), batch.runs.end(),
                        [](const PreparedRun& run) { return run.payload.posted; });
  return batch;
}

}  // namespace pharos::tracing
