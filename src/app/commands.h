#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/settings.h"

namespace pharos::app {

inline constexpr std::string_view kVersion = "0.1.0";

// Flags shared by every subcommand that reads the configuration.
struct CommonOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> env_file;
  std::optional<std::string> data_dir;
  std::optional<std::string> listen;
  std::optional<std::string> otlp_grpc_listen;
  std::vector<std::string> sets;  // "path=value"
};

// Loads the layered settings with the flags as the top layer; throws SettingsError.
core::Settings loadSettingsFromCommandLine(const CommonOptions& options);

int serveCommand(const CommonOptions& options);
int configShowCommand(const CommonOptions& options);
int keysCreateCommand(const CommonOptions& options, const std::string& workspace,
                      const std::string& label);
int keysListCommand(const CommonOptions& options, bool json);
int keysRevokeCommand(const CommonOptions& options, const std::string& id);

struct RunsListOptions {
  std::string project;
  std::string filter;
  std::size_t limit = 20;
  std::string workspace = "default";
  bool json = false;
};
int runsListCommand(const CommonOptions& options, const RunsListOptions& list);

// `pharos audit verify FILE`: 0 when the file's hash chain is intact, 1 (naming the first bad
// line) when it is not.
int auditVerifyCommand(const std::string& file);

struct TokensOptions {
  std::string encoding;  // cl100k_base, o200k_base
  std::string model;     // used when encoding is empty
  bool count = false;    // print counts instead of ids
  bool json = false;     // each input line is a JSON string
};
// `pharos tokens`: one output line (token ids, space-separated, or the count) per stdin line.
int tokensCommand(const TokensOptions& options);

}  // namespace pharos::app
