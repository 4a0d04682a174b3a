#include "eval/files/example_id.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <vector>

#include "core/ids.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;

void appendCanonical(std::string& out, const json::value& value) {
  if (value.is_object()) {
    const json::object& object = value.get_object();
    std::vector<const json::key_value_pair*> members;
    members.reserve(object.size());
    for (const auto& member : object) members.push_back(&member);
    std::sort(members.begin(), members.end(),
              [](const auto* a, const auto* b) { return a->key() < b->key(); });
    out.push_back('{');
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += json::serialize(json::value(members[i]->key()));
      out.push_back(':');
      appendCanonical(out, members[i]->value());
    }
    out.push_back('}');
  } else if (value.is_array()) {
    out.push_back('[');
    bool first = true;
    for (const json::value& item : value.get_array()) {
      if (!first) out.push_back(',');
      first = false;
      appendCanonical(out, item);
    }
    out.push_back(']');
  } else {
    out += json::serialize(value);
  }
}

}  // namespace

std::string canonicalJson(const json::value& value) {
  std::string out;
  appendCanonical(out, value);
  return out;
}

std::string fileRowExampleId(std::string_view dataset_id, const ExampleRow& row) {
  if (row.id) return *row.id;
  json::object content;
  content["inputs"] = row.inputs;
  content["outputs"] = row.outputs;
  return core::uuidV5(dataset_id, canonicalJson(content));
}

std::string unreadableLineExampleId(std::string_view dataset_id, std::size_t line) {
  return core::uuidV5(dataset_id, fmt::format("unreadable line {}", line));
}

}  // namespace pharos::eval
