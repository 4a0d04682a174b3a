// JSONL dataset files (format in dataset_file.h).
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "eval/files/dataset_file.h"
#include "eval/files/row_fields.h"

namespace pharos::eval {

using namespace files;
namespace json = boost::json;

namespace {

// Reads the "split" member (a name, a list of names, or null).
bool readSplits(const json::value& value, std::vector<std::string>& splits, std::string& error) {
  if (value.is_null()) return true;
  if (value.is_string()) return addSplit(value.get_string(), splits, error);
  if (!value.is_array()) {
    error =
        fmt::format("\"split\" must be a string or an array of strings, got {}", kindName(value));
    return false;
  }
  for (const auto& item : value.get_array()) {
    if (!item.is_string()) {
      error =
          fmt::format("\"split\" must be a string or an array of strings, got an array holding {}",
                      kindName(item));
      return false;
    }
    if (!addSplit(item.get_string(), splits, error)) return false;
  }
  return true;
}

bool readId(const json::value& value, ExampleRow& row, std::string& error) {
  if (value.is_null()) return true;
  if (!value.is_string()) {
    error = fmt::format("\"id\" must be a UUID string, got {}", kindName(value));
    return false;
  }
  row.id = normaliseId(value.get_string(), error);
  return row.id.has_value();
}

// An object member, or null meaning absent.
bool readObject(std::string_view key, const json::value& value, json::object& out,
                std::string& error) {
  if (value.is_null()) return true;
  if (!value.is_object()) {
    error = fmt::format("\"{}\" must be an object, got {}", key, kindName(value));
    return false;
  }
  out = value.get_object();
  return true;
}

bool readStructured(const json::object& object, ExampleRow& row, std::string& error) {
  bool haveInputs = false;
  for (const auto& member : object) {
    const std::string_view key = member.key();
    const json::value& value = member.value();
    if (key == "inputs") {
      if (!value.is_object()) {
        error = fmt::format("\"inputs\" must be an object, got {}", kindName(value));
        return false;
      }
      row.inputs = value.get_object();
      haveInputs = true;
    } else if (key == "outputs" || key == "metadata") {
      if (!readObject(key, value, key == "outputs" ? row.outputs : row.metadata, error)) {
        return false;
      }
    } else if (key == "split") {
      if (!readSplits(value, row.splits, error)) return false;
    } else if (key == "id") {
      if (!readId(value, row, error)) return false;
    } else if (key == "created_at" || key == "modified_at") {
      // What writeJsonl adds; the server keeps its own times.
    } else {
      error = fmt::format(
          "unknown key {} (a row has inputs, outputs, metadata, split, id; for flat rows give "
          "input/output keys)",
          quoted(key));
      return false;
    }
  }
  if (!haveInputs) {
    error =
        "missing \"inputs\" (a row is {\"inputs\":{…}, \"outputs\":{…}, …}; for flat rows give "
        "input/output keys)";
    return false;
  }
  return true;
}

bool readFlat(const json::object& object, const KeyMapping& mapping, ExampleRow& row,
              std::string& error) {
  for (const auto& key : mapping.input_keys) {
    if (!object.contains(key)) {
      error = fmt::format("missing input key {}", quoted(key));
      return false;
    }
  }
  for (const auto& member : object) {
    const std::string_view key = member.key();
    const bool isInput = contains(mapping.input_keys, key);
    const bool isOutput = contains(mapping.output_keys, key);
    if (isOutput) {
      row.outputs[key] = member.value();
    } else if (!isInput && key == "id") {
      if (!readId(member.value(), row, error)) return false;
    } else if (!isInput && key == "split") {
      if (!readSplits(member.value(), row.splits, error)) return false;
    } else {
      row.inputs[key] = member.value();
    }
  }
  return true;
}

}  // namespace

ReadResult readJsonl(std::string_view text, const KeyMapping& mapping) {
  ReadResult result;
  if (std::string problem = checkMapping(mapping); !problem.empty()) {
    result.errors.push_back({0, std::move(problem)});
    return result;
  }
  text = stripBom(text);
  std::size_t lineNumber = 0;
  while (!text.empty()) {
    ++lineNumber;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;

    auto fail = [&](std::string message) {
      result.errors.push_back({lineNumber, std::move(message)});
    };
    if (line.size() > kMaxLineBytes) {
      fail(fmt::format("the line is {} bytes, more than the {} MiB limit", line.size(),
                       kMaxLineBytes >> 20));
      continue;
    }
    std::string error;
    auto value = parseJson(line, error);
    if (!value) {
      fail(std::move(error));
      continue;
    }
    if (!value->is_object()) {
      fail(fmt::format("expected a JSON object, got {}", kindName(*value)));
      continue;
    }
    ExampleRow row;
    row.line = lineNumber;
    bool ok = mapping.empty() ? readStructured(value->get_object(), row, error)
                              : readFlat(value->get_object(), mapping, row, error);
    if (ok) {
      error = checkDepth(row);
      ok = error.empty();
    }
    if (ok) {
      result.rows.push_back(std::move(row));
    } else {
      fail(std::move(error));
    }
  }
  return result;
}

std::string writeJsonl(const std::vector<ExportedExample>& examples) {
  std::string out;
  auto stringOrNull = [](const std::string& text) {
    return text.empty() ? json::value(nullptr) : json::value(text);
  };
  for (const auto& example : examples) {
    json::object line;
    line["id"] = stringOrNull(example.id);
    line["inputs"] = example.inputs;
    line["outputs"] = example.outputs;
    line["metadata"] = example.metadata;
    json::array splits;
    for (const auto& split : example.splits) splits.emplace_back(split);
    line["split"] = std::move(splits);
    line["created_at"] = stringOrNull(example.created_at);
    line["modified_at"] = stringOrNull(example.modified_at);
    out += json::serialize(line);
    out += '\n';
  }
  return out;
}

}  // namespace pharos::eval
