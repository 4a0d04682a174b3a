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

// ---- commands that talk to a running Pharos (server_client.h) ----

struct RemoteOptions {
  std::string url;  // empty: $PHAROS_URL, else the configured server.listen
  std::string api_key_env = "PHAROS_API_KEY";
};

struct DatasetsImportOptions {
  RemoteOptions remote;
  std::string file, dataset, format;
  std::vector<std::string> input_keys, output_keys;
  std::string inputs_schema, outputs_schema;
  bool strict = false;
};
// `pharos datasets import`: 0 all rows imported, 1 some rows bad (the good ones imported unless
// --strict) or a setup failure.
int datasetsImportCommand(const CommonOptions& options, const DatasetsImportOptions& import);

struct DatasetsExportOptions {
  RemoteOptions remote;
  std::string dataset, format = "jsonl", as_of, output;
  std::vector<std::string> splits;
};
int datasetsExportCommand(const CommonOptions& options,
                          const DatasetsExportOptions& export_options);

struct DatasetsListOptions {
  RemoteOptions remote;
  bool json = false;
};
int datasetsListCommand(const CommonOptions& options, const DatasetsListOptions& list);

struct EvalOptions {
  RemoteOptions remote;
  std::string dataset, file, format;
  std::vector<std::string> input_keys, output_keys;
  std::string inputs_schema, outputs_schema;
  std::string model, endpoint, endpoint_key_env;
  std::string prompt, prompt_file, system, output_key, reference_key;
  std::vector<std::string> evaluators;
  std::string experiment_prefix;
  std::size_t concurrency = 4;
  std::string timeout = "60s", judge_timeout = "60s";
  std::vector<std::string> splits;
  std::size_t limit = 0;  // 0: every example
  int compare = 0;        // how many earlier experiments to compare with
  std::vector<std::string> baselines;
  std::vector<std::string> fail_under;  // KEY=THRESHOLD
  bool json = false;
  bool no_progress = false;
};
// `pharos eval`: 0 done (per-example errors are data), 1 setup failure, 2 usage, 3 a
// --fail-under threshold not met, 130 interrupted.
int evalCommand(const CommonOptions& options, const EvalOptions& eval_options);

struct EvalCompareOptions {
  RemoteOptions remote;
  std::string dataset;
  std::vector<std::string> experiments;  // names or ids; empty: the last `last`
  std::size_t last = 2;
  bool json = false;
};
int evalCompareCommand(const CommonOptions& options, const EvalCompareOptions& compare);

}  // namespace pharos::app
