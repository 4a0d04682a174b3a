// The `pharos` command: serve, version, config show, keys create|list|revoke, runs list,
// audit verify, tokens.
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
