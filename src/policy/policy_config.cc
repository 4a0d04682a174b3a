#include "policy/policy_config.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <initializer_list>
#include <limits>

#include "core/toml_tree.h"

namespace pharos::policy {

namespace {

// Parsing stops at the first problem; this carries it out of the helpers.
struct Failure {
  core::Error error;
};

std::string sourceOf(const toml::node& node) {
  const auto& source = node.source();
  const std::string file = source.path ? *source.path : std::string("config");
  return source.begin.line == 0 ? file : fmt::format("{}:{}", file, source.begin.line);
}

[[noreturn]] void fail(const std::string& path, const toml::node& node, std::string_view reason) {
  throw Failure{
      core::Error::invalidArgument(fmt::format("{}: {} (from {})", path, reason, sourceOf(node)))};
}

void rejectUnknownKeys(const std::string& where, const toml::table& table,
                       std::initializer_list<std::string_view> known) {
  for (const auto& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    std::string list;
    for (auto name : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
    fail(fmt::format("{}.{}", where, key.str()), node,
         fmt::format("unknown setting; expected one of: {}", list));
  }
}

std::string requireString(const std::string& path, const toml::node& node) {
  const auto* value = node.as_string();
  if (value == nullptr) {
    fail(path, node, fmt::format("expected a string, got {}", core::tomlTypeName(node)));
  }
  return value->get();
}

std::size_t requireCount(const std::string& path, const toml::node& node, std::int64_t max) {
  const auto* value = node.as_integer();
  if (value == nullptr || value->get() < 1 || value->get() > max) {
    fail(path, node,
         value == nullptr
             ? fmt::format("expected a whole number, got {}", core::tomlTypeName(node))
             : fmt::format("expected a whole number from 1 to {}, got {}", max, value->get()));
  }
  return static_cast<std::size_t>(value->get());
}

bool requireBool(const std::string& path, const toml::node& node) {
  const auto* value = node.as_boolean();
  if (value == nullptr) fail(path, node, "expected true or false");
  return value->get();
}

std::vector<std::string> requireStrings(const std::string& path, const toml::node& node) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    fail(path, node, fmt::format("expected an array of strings, got {}", core::tomlTypeName(node)));
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    out.push_back(requireString(fmt::format("{}[{}]", path, i), *array->get(i)));
  }
  return out;
}

void requireRegex(const std::string& path, const toml::node& node, const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok()) fail(path, node, fmt::format("invalid regular expression: {}", re.error()));
}

std::optional<Detector> detectorByName(std::string_view name) {
  for (std::size_t i = 0; i < kDetectorCount; ++i) {
    if (detectorName(static_cast<Detector>(i)) == name) return static_cast<Detector>(i);
  }
  return std::nullopt;
}

constexpr std::string_view kDetectorList = "ssn, card, email, phone or api_key";

}  // namespace

core::Result<InputPolicy> parseInputPolicy(const toml::table& table, std::string_view where_view) {
  const std::string where(where_view);
  try {
    rejectUnknownKeys(
        where, table,
        {"max_chars", "max_messages", "max_total_chars", "user_id_pattern", "require_user_id",
         "strip_chars", "reject_chars", "injection_phrases", "injection_action", "check_roles"});
    constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
    InputPolicy p;
    auto key = [&](std::string_view name) { return fmt::format("{}.{}", where, name); };
    if (const auto* n = table.get("max_chars"))
      p.max_chars = requireCount(key("max_chars"), *n, kMax);
    if (const auto* n = table.get("max_messages"))
      p.max_messages = requireCount(key("max_messages"), *n, kMax);
    if (const auto* n = table.get("max_total_chars"))
      p.max_total_chars = requireCount(key("max_total_chars"), *n, kMax);
    if (const auto* n = table.get("user_id_pattern")) {
      p.user_id_pattern = requireString(key("user_id_pattern"), *n);
      requireRegex(key("user_id_pattern"), *n, p.user_id_pattern);
    }
    if (const auto* n = table.get("require_user_id"))
      p.require_user_id = requireBool(key("require_user_id"), *n);
    if (const auto* n = table.get("strip_chars"))
      p.strip_chars = requireString(key("strip_chars"), *n);
    if (const auto* n = table.get("reject_chars"))
      p.reject_chars = requireString(key("reject_chars"), *n);
    if (const auto* n = table.get("injection_phrases")) {
      p.injection_phrases = requireStrings(key("injection_phrases"), *n);
      for (std::size_t i = 0; i < p.injection_phrases.size(); ++i) {
        const auto& phrase = p.injection_phrases[i];
        if (std::all_of(phrase.begin(), phrase.end(),
                        [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
          fail(fmt::format("{}[{}]", key("injection_phrases"), i), *n, "a phrase is empty");
        }
      }
    }
    if (const auto* n = table.get("injection_action")) {
      const std::string action = requireString(key("injection_action"), *n);
      if (action == "reject") {
        p.injection_action = InjectionAction::kReject;
      } else if (action == "flag") {
        p.injection_action = InjectionAction::kFlag;
      } else {
        fail(key("injection_action"), *n,
             fmt::format("expected \"reject\" or \"flag\", got \"{}\"", action));
      }
    }
    if (const auto* n = table.get("check_roles")) {
      p.check_roles = requireStrings(key("check_roles"), *n);
      for (std::size_t i = 0; i < p.check_roles.size(); ++i) {
        if (std::find(kMessageRoles.begin(), kMessageRoles.end(), p.check_roles[i]) ==
            kMessageRoles.end()) {
          fail(fmt::format("{}[{}]", key("check_roles"), i), *n->as_array()->get(i),
               fmt::format("unknown role \"{}\"; expected system, developer, user, assistant, "
                           "tool or function",
                           p.check_roles[i]));
        }
      }
    }
    return p;
  } catch (Failure& failure) {
    return std::move(failure.error);
  }
}

core::Result<OutputPolicy> parseOutputPolicy(const toml::table& table,
                                             std::string_view where_view) {
  const std::string where(where_view);
  try {
    rejectUnknownKeys(
        where, table,
        {"redact", "replacements", "forbidden_code", "code_replacement", "max_code_block_bytes"});
    OutputPolicy p;
    auto key = [&](std::string_view name) { return fmt::format("{}.{}", where, name); };
    if (const auto* n = table.get("redact")) {
      const auto names = requireStrings(key("redact"), *n);
      p.enabled.fill(false);
      for (std::size_t i = 0; i < names.size(); ++i) {
        auto d = detectorByName(names[i]);
        if (!d) {
          fail(fmt::format("{}[{}]", key("redact"), i), *n->as_array()->get(i),
               fmt::format("unknown detector \"{}\"; expected {}", names[i], kDetectorList));
        }
        p.on(*d) = true;
      }
    }
    if (const auto* n = table.get("replacements")) {
      const auto* sub = n->as_table();
      if (sub == nullptr) fail(key("replacements"), *n, "expected a table of detector = \"text\"");
      for (const auto& [name, value] : *sub) {
        const std::string path = fmt::format("{}.{}", key("replacements"), name.str());
        auto d = detectorByName(name.str());
        if (!d) fail(path, value, fmt::format("unknown detector; expected {}", kDetectorList));
        p.replacement[static_cast<std::size_t>(*d)] = requireString(path, value);
      }
    }
    if (const auto* n = table.get("forbidden_code")) {
      const auto* array = n->as_array();
      if (array == nullptr) {
        fail(key("forbidden_code"), *n,
             "expected an array of { language = \"python\", contains = \"import os\" }");
      }
      for (std::size_t i = 0; i < array->size(); ++i) {
        const std::string path = fmt::format("{}[{}]", key("forbidden_code"), i);
        const toml::node& item = *array->get(i);
        const auto* rule = item.as_table();
        if (rule == nullptr) {
          fail(path, item,
               fmt::format("expected a table such as {{ language = \"python\", "
                           "contains = \"import os\" }}, got {}",
                           core::tomlTypeName(item)));
        }
        rejectUnknownKeys(path, *rule, {"language", "contains"});
        ForbiddenCode code;
        if (const auto* l = rule->get("language"))
          code.language = requireString(path + ".language", *l);
        if (const auto* c = rule->get("contains")) {
          code.contains = requireString(path + ".contains", *c);
          requireRegex(path + ".contains", *c, code.contains);
        }
        p.forbidden_code.push_back(std::move(code));
      }
    }
    if (const auto* n = table.get("code_replacement"))
      p.code_replacement = requireString(key("code_replacement"), *n);
    if (const auto* n = table.get("max_code_block_bytes"))
      p.max_code_block_bytes = requireCount(key("max_code_block_bytes"), *n, 64 << 20);
    return p;
  } catch (Failure& failure) {
    return std::move(failure.error);
  }
}

}  // namespace pharos::policy
