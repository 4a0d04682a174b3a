// The `pharos` command: serve, version, config show, keys create|list|revoke, runs list,
// audit verify, tokens, eval [compare], datasets import|export|list.
// The only place that wires modules together.
#include <fmt/format.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "core/log.h"
#include "core/settings.h"

namespace {

using pharos::app::CommonOptions;

void addSettingsOptions(CLI::App& command, CommonOptions& options) {
  command.add_option("--config", options.config_file,
                     "TOML configuration file (default: ./pharos.toml if present)");
  command.add_option("--env-file", options.env_file, ".env file (default: ./.env if present)");
  command.add_option("--data", options.data_dir, "data directory (data.dir; default ./data)");
  command.add_option("--set", options.sets,
                     "override one setting, e.g. --set server.io_threads=4 (repeatable)");
}

void addRemoteOptions(CLI::App& command, CommonOptions& options,
                      pharos::app::RemoteOptions& remote) {
  command.add_option("--url", remote.url,
                     "the Pharos server (default: $PHAROS_URL, else http:// + server.listen)");
  command.add_option("--api-key-env", remote.api_key_env,
                     "environment variable holding the API key to send (default PHAROS_API_KEY)");
  addSettingsOptions(command, options);
}

void addFileOptions(CLI::App& command, std::string& format, std::vector<std::string>& input_keys,
                    std::vector<std::string>& output_keys, std::string& inputs_schema,
                    std::string& outputs_schema) {
  command.add_option("--format", format, "jsonl or csv (default: from the file name)");
  command.add_option("--input-keys", input_keys, "flat rows: these columns are inputs")
      ->delimiter(',');
  command.add_option("--output-keys", output_keys, "flat rows: these columns are outputs")
      ->delimiter(',');
  command.add_option("--inputs-schema", inputs_schema,
                     "JSON Schema file for the inputs (when the dataset is created)");
  command.add_option("--outputs-schema", outputs_schema,
                     "JSON Schema file for the outputs (when the dataset is created)");
}

}  // namespace

int main(int argc, char** argv) {
  // A log reader or terminal that goes away must not kill the server: writes to a closed pipe
  // fail with EPIPE instead.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"Pharos: a self-hosted production platform for LLM applications", "pharos"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(pharos::app::kVersion));

  CommonOptions options;
  auto* serve = app.add_subcommand("serve", "run the server");
  addSettingsOptions(*serve, options);
  serve->add_option("--listen", options.listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve->add_option("--otlp-grpc-listen", options.otlp_grpc_listen,
                    "HOST:PORT for the OTLP/gRPC trace receiver, or \"off\" (default "
                    "127.0.0.1:4317)");

  auto* version = app.add_subcommand("version", "print the version");

  auto* config = app.add_subcommand("config", "inspect the configuration");
  config->require_subcommand(1);
  auto* config_show =
      config->add_subcommand("show", "print the effective configuration (secrets masked)");
  addSettingsOptions(*config_show, options);
  config_show->add_option("--listen", options.listen, "as for serve");
  config_show->add_option("--otlp-grpc-listen", options.otlp_grpc_listen, "as for serve");

  auto* keys = app.add_subcommand("keys", "manage API keys");
  keys->require_subcommand(1);
  std::string workspace;
  std::string label;
  std::string key_id;
  bool json = false;
  auto* keys_create = keys->add_subcommand("create", "create a key; prints it once");
  keys_create->add_option("--workspace", workspace, "workspace the key belongs to")->required();
  keys_create->add_option("--label", label, "a note to recognise the key by");
  addSettingsOptions(*keys_create, options);
  auto* keys_list = keys->add_subcommand("list", "list keys (never their secrets)");
  keys_list->add_flag("--json", json, "JSON lines instead of a table");
  addSettingsOptions(*keys_list, options);
  auto* keys_revoke = keys->add_subcommand("revoke", "revoke a key by its id");
  keys_revoke->add_option("id", key_id, "the key id (as `pharos keys list` shows)")->required();
  addSettingsOptions(*keys_revoke, options);

  auto* runs = app.add_subcommand("runs", "read traced runs");
  runs->require_subcommand(1);
  pharos::app::RunsListOptions runs_list_options;
  auto* runs_list = runs->add_subcommand("list", "list a project's runs, newest first");
  runs_list->add_option("--project", runs_list_options.project, "project (session) name")
      ->required();
  runs_list->add_option("--filter", runs_list_options.filter,
                        "filter expression, e.g. 'and(eq(status, \"error\"), gt(latency, 2))'");
  runs_list->add_option("--limit", runs_list_options.limit, "most runs to print (default 20)")
      ->check(CLI::PositiveNumber);
  runs_list->add_option("--workspace", runs_list_options.workspace,
                        "workspace of the project (default \"default\")");
  runs_list->add_flag("--json", runs_list_options.json,
                      "JSON lines (one run each) instead of a table");
  addSettingsOptions(*runs_list, options);

  auto* audit = app.add_subcommand("audit", "check the audit log");
  audit->require_subcommand(1);
  std::string audit_file;
  auto* audit_verify = audit->add_subcommand(
      "verify",
      "check the hash chain of a file or a whole audit directory; exit 1 at the first "
      "bad line");
  audit_verify
      ->add_option("path", audit_file,
                   "an audit log file (audit.jsonl, audit-*.jsonl) or the directory holding them")
      ->required();

  pharos::app::TokensOptions tokens_options;
  auto* tokens = app.add_subcommand(
      "tokens", "print the token ids (tiktoken's) of each line of standard input");
  tokens->add_option("--encoding", tokens_options.encoding, "cl100k_base or o200k_base");
  tokens->add_option("--model", tokens_options.model, "use this model's encoding, e.g. gpt-4o");
  tokens->add_flag("--count", tokens_options.count, "print each line's token count instead");
  tokens->add_flag("--json", tokens_options.json,
                   "every input line is a JSON string (so a text can hold newlines)");

  CommonOptions remote_settings;
  pharos::app::EvalOptions eval_options;
  auto* eval = app.add_subcommand(
      "eval", "run a dataset against a model, score the answers, store it as an experiment");
  eval->require_subcommand(0, 1);
  addRemoteOptions(*eval, remote_settings, eval_options.remote);
  eval->add_option("--dataset", eval_options.dataset,
                   "the dataset (with --file: the dataset the file's rows go into)");
  eval->add_option("--file", eval_options.file, "a JSONL or CSV file of examples");
  addFileOptions(*eval, eval_options.format, eval_options.input_keys, eval_options.output_keys,
                 eval_options.inputs_schema, eval_options.outputs_schema);
  eval->add_option("--model", eval_options.model, "the model to evaluate (a gateway model name)");
  eval->add_option("--endpoint", eval_options.endpoint,
                   "call the model at this OpenAI-compatible base URL instead of the gateway");
  eval->add_option("--endpoint-key-env", eval_options.endpoint_key_env,
                   "environment variable holding the --endpoint's API key");
  eval->add_option("--prompt", eval_options.prompt,
                   "user message template with {input_key} placeholders");
  eval->add_option("--prompt-file", eval_options.prompt_file, "the template, from a file");
  eval->add_option("--system", eval_options.system, "a system message");
  eval->add_option("--output-key", eval_options.output_key,
                   "the key of the answer in the run's outputs (default: the reference's key)");
  eval->add_option("--reference-key", eval_options.reference_key,
                   "the reference output evaluators compare with");
  eval->add_option("--evaluator", eval_options.evaluators,
                   "NAME[:k=v,...]: exact_match, contains, regex, json_schema, "
                   "embedding_similarity, judge (repeatable)");
  eval->add_option("--experiment-prefix", eval_options.experiment_prefix,
                   "the experiment is named PREFIX-<8 hex> (default: the model)");
  eval->add_option("--concurrency", eval_options.concurrency, "examples in flight (default 4)");
  eval->add_option("--timeout", eval_options.timeout, "per target call (default 60s)");
  eval->add_option("--judge-timeout", eval_options.judge_timeout,
                   "per model-backed evaluator (default 60s)");
  eval->add_option("--split", eval_options.splits, "only examples of this split (repeatable)");
  eval->add_option("--limit", eval_options.limit, "only the first N examples");
  eval->add_flag("--compare{1}", eval_options.compare,
                 "then compare with the last N earlier experiments on the dataset (default 1)");
  eval->add_option("--baseline", eval_options.baselines,
                   "compare with this experiment (name or id; repeatable)");
  eval->add_option("--fail-under", eval_options.fail_under,
                   "KEY=MIN: exit 3 when the mean score of KEY is below MIN (repeatable)");
  eval->add_flag("--json", eval_options.json, "print the result as JSON");
  eval->add_flag("--no-progress", eval_options.no_progress, "no progress display on stderr");

  pharos::app::EvalCompareOptions compare_options;
  auto* eval_compare = eval->add_subcommand("compare", "compare experiments on a dataset");
  addRemoteOptions(*eval_compare, remote_settings, compare_options.remote);
  eval_compare->add_option("--dataset", compare_options.dataset, "the dataset")->required();
  eval_compare->add_option("experiments", compare_options.experiments,
                           "experiments (names or ids), baseline first");
  eval_compare->add_option("--last", compare_options.last,
                           "without names: the last N experiments (default 2)");
  eval_compare->add_flag("--json", compare_options.json, "print the comparison as JSON");

  auto* datasets = app.add_subcommand("datasets", "dataset files in and out of a running Pharos");
  datasets->require_subcommand(1);
  pharos::app::DatasetsImportOptions import_options;
  auto* datasets_import = datasets->add_subcommand("import", "add a JSONL or CSV file's rows");
  addRemoteOptions(*datasets_import, remote_settings, import_options.remote);
  datasets_import->add_option("--file", import_options.file, "the file")->required();
  datasets_import->add_option("--dataset", import_options.dataset,
                              "the dataset (created when missing; default: the file's name)");
  addFileOptions(*datasets_import, import_options.format, import_options.input_keys,
                 import_options.output_keys, import_options.inputs_schema,
                 import_options.outputs_schema);
  datasets_import->add_flag("--strict", import_options.strict,
                            "import nothing when any row is bad");
  pharos::app::DatasetsExportOptions export_options;
  auto* datasets_export = datasets->add_subcommand("export", "write a dataset's examples");
  addRemoteOptions(*datasets_export, remote_settings, export_options.remote);
  datasets_export->add_option("--dataset", export_options.dataset, "the dataset")->required();
  datasets_export->add_option("--format", export_options.format, "jsonl (default) or csv");
  datasets_export->add_option("--as-of", export_options.as_of,
                              "the dataset as it was at this time (ISO 8601)");
  datasets_export->add_option("--split", export_options.splits, "only this split (repeatable)");
  datasets_export->add_option("-o,--output", export_options.output,
                              "write to this file (default: standard output)");
  pharos::app::DatasetsListOptions datasets_list_options;
  auto* datasets_list = datasets->add_subcommand("list", "list the datasets");
  addRemoteOptions(*datasets_list, remote_settings, datasets_list_options.remote);
  datasets_list->add_flag("--json", datasets_list_options.json, "JSON lines instead of a table");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*serve) return pharos::app::serveCommand(options);
    if (*version) {
      fmt::print("pharos {}\n", pharos::app::kVersion);
      return 0;
    }
    if (*config_show) return pharos::app::configShowCommand(options);
    if (*keys_create) return pharos::app::keysCreateCommand(options, workspace, label);
    if (*keys_list) return pharos::app::keysListCommand(options, json);
    if (*keys_revoke) return pharos::app::keysRevokeCommand(options, key_id);
    if (*runs_list) return pharos::app::runsListCommand(options, runs_list_options);
    if (*audit_verify) return pharos::app::auditVerifyCommand(audit_file);
    if (*tokens) return pharos::app::tokensCommand(tokens_options);
    if (*eval_compare) return pharos::app::evalCompareCommand(remote_settings, compare_options);
    if (*eval) return pharos::app::evalCommand(remote_settings, eval_options);
    if (*datasets_import)
      return pharos::app::datasetsImportCommand(remote_settings, import_options);
    if (*datasets_export)
      return pharos::app::datasetsExportCommand(remote_settings, export_options);
    if (*datasets_list) {
      return pharos::app::datasetsListCommand(remote_settings, datasets_list_options);
    }
  } catch (const pharos::core::SettingsError& e) {
    fmt::print(stderr, "pharos: configuration error: {}\n", e.what());
    fmt::print(stderr,
               "  fix the setting and start again; `pharos config show` prints the "
               "effective configuration, docs/configuration.md lists every key\n");
    return 2;
  } catch (const std::exception& e) {
    pharos::core::log::flush();
    fmt::print(stderr, "pharos: {}\n", e.what());
    return 1;
  }
  return 0;
}
