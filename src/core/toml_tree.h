// A parsed TOML table that core keeps for the module that owns it: tables whose keys the user
// names ([gateway.providers.NAME], [gateway.models."NAME"]), which the registry of fixed settings
// cannot describe. The owner validates it and reports errors against `file` and the node's line.
#pragma once

#include <toml++/toml.h>

#include <memory>
#include <string>

namespace pharos::core {

struct TomlTree {
  std::string file;  // as shown in errors ("pharos.toml")
  // The whole parsed file: toml++ does not copy source positions, so the table is kept in place.
  std::shared_ptr<const toml::table> root;
  const toml::table* table = nullptr;  // inside root
};

}  // namespace pharos::core
