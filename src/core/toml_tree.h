// A parsed TOML table that core keeps for the module that owns it: tables whose keys the user
// names ([gateway.providers.NAME], [gateway.models."NAME"]), which the registry of fixed settings
// cannot describe. The owner validates it and reports errors against `file` and the node's line.
#pragma once

#include <toml++/toml.h>

#include <memory>
#include <string>
#include <string_view>

namespace pharos::core {

// "a table", "a string", ...: how errors name the kind of value found.
inline std::string_view tomlTypeName(const toml::node& node) {
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  if (node.is_string()) return "a string";
  if (node.is_integer()) return "an integer";
  if (node.is_floating_point()) return "a float";
  if (node.is_boolean()) return "a boolean";
  return "a date or time";
}

struct TomlTree {
  std::string file;  // as shown in errors ("pharos.toml")
  // The whole parsed file: toml++ does not copy source positions, so the table is kept in place.
  std::shared_ptr<const toml::table> root;
  const toml::table* table = nullptr;  // inside root
};

}  // namespace pharos::core
