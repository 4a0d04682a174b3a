#include "policy/input_validation.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <boost/json.hpp>

namespace pharos::policy {

namespace json = boost::json;

namespace {

std::size_t countChars(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// Length of the UTF-8 sequence starting with `lead` (1 for invalid bytes: they pass as bytes).
std::size_t sequenceLength(unsigned char lead) {
  if (lead >= 0xF0 && lead < 0xF8) return 4;
  if (lead >= 0xE0) return lead < 0xF0 ? 3 : 1;
  if (lead >= 0xC0) return 2;
  return 1;
}

std::vector<std::string> splitChars(std::string_view set) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < set.size();) {
    const std::size_t n =
        std::min(sequenceLength(static_cast<unsigned char>(set[i])), set.size() - i);
    out.emplace_back(set.substr(i, n));
    i += n;
  }
  return out;
}

// The first character of `text` in `chars`, or nullptr.
const std::string* findChar(std::string_view text, const std::vector<std::string>& chars) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n =
        std::min(sequenceLength(static_cast<unsigned char>(text[i])), text.size() - i);
    const std::string_view c = text.substr(i, n);
    for (const auto& candidate : chars) {
      if (candidate == c) return &candidate;
    }
    i += n;
  }
  return nullptr;
}

std::string stripChars(std::string_view text, const std::vector<std::string>& chars) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n =
        std::min(sequenceLength(static_cast<unsigned char>(text[i])), text.size() - i);
    const std::string_view c = text.substr(i, n);
    if (std::find(chars.begin(), chars.end(), c) == chars.end()) out.append(c);
    i += n;
  }
  return out;
}

bool knownRole(std::string_view role) {
  return std::find(kMessageRoles.begin(), kMessageRoles.end(), role) != kMessageRoles.end();
}

InputVerdict reject(std::string rule, std::string message) {
  InputVerdict verdict;
  verdict.rejected = true;
  verdict.rule = std::move(rule);
  verdict.message = std::move(message);
  return verdict;
}

}  // namespace

struct InputValidator::Compiled {
  InputPolicy policy;
  std::unique_ptr<RE2> user_id;
  std::unique_ptr<RE2> injection;  // (phrase 1)|(phrase 2)|...
  std::vector<std::string> strip, refuse;
};

InputValidator::InputValidator(std::shared_ptr<const Compiled> compiled)
    : compiled_(std::move(compiled)) {}

const InputPolicy& InputValidator::policy() const {
  return compiled_->policy;
}

core::Result<InputValidator> InputValidator::compile(const InputPolicy& policy) {
  auto c = std::make_shared<Compiled>();
  c->policy = policy;
  RE2::Options options;
  options.set_log_errors(false);
  if (!policy.user_id_pattern.empty()) {
    c->user_id = std::make_unique<RE2>(policy.user_id_pattern, options);
    if (!c->user_id->ok()) {
      return core::Error::invalidArgument(
          fmt::format("user_id_pattern: invalid regular expression \"{}\": {}",
                      policy.user_id_pattern, c->user_id->error()));
    }
  }
  std::string alternation;
  for (const auto& phrase : policy.injection_phrases) {
    std::string pattern;
    std::size_t i = 0;
    while (i < phrase.size()) {
      while (i < phrase.size() && std::isspace(static_cast<unsigned char>(phrase[i]))) ++i;
      std::size_t j = i;
      while (j < phrase.size() && !std::isspace(static_cast<unsigned char>(phrase[j]))) ++j;
      if (j > i) {
        if (!pattern.empty()) pattern += R"(\s+)";
        pattern += RE2::QuoteMeta(phrase.substr(i, j - i));
      }
      i = j;
    }
    if (pattern.empty()) {
      return core::Error::invalidArgument("injection_phrases: a phrase is empty");
    }
    alternation += fmt::format("{}({})", alternation.empty() ? "" : "|", pattern);
  }
  if (!alternation.empty()) {
    options.set_case_sensitive(false);
    options.set_max_mem(32 << 20);
    c->injection = std::make_unique<RE2>(alternation, options);
    if (!c->injection->ok()) {
      return core::Error::invalidArgument("injection_phrases: " + c->injection->error());
    }
  }
  c->strip = splitChars(policy.strip_chars);
  c->refuse = splitChars(policy.reject_chars);
  return InputValidator(std::move(c));
}

InputVerdict InputValidator::apply(json::object& request, std::string_view user_id) const {
  const Compiled& c = *compiled_;
  const InputPolicy& p = c.policy;

  // Schema first: everything after it may assume the shape.
  auto* messages_value = request.if_contains("messages");
  if (messages_value == nullptr || !messages_value->is_array()) {
    return reject("schema", "the request needs \"messages\": an array of messages");
  }
  json::array& messages = messages_value->as_array();
  if (messages.empty()) return reject("schema", "\"messages\" is empty");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!messages[i].is_object()) {
      return reject("schema", fmt::format("messages[{}] is not an object", i));
    }
    const json::object& m = messages[i].as_object();
    const auto* role = m.if_contains("role");
    if (role == nullptr || !role->is_string()) {
      return reject("schema", fmt::format("messages[{}] has no \"role\" string", i));
    }
    const std::string_view role_name(role->as_string().data(), role->as_string().size());
    if (!knownRole(role_name)) {
      return reject("schema", fmt::format("messages[{}].role \"{}\" is not one of system, "
                                          "developer, user, assistant, tool, function",
                                          i, role_name));
    }
    const auto* content = m.if_contains("content");
    if (content == nullptr || content->is_null()) {
      const bool calls = m.contains("tool_calls") || m.contains("function_call");
      if (role_name == "assistant" && calls) continue;
      return reject("schema",
                    fmt::format("messages[{}] ({}) has no content; only an assistant message "
                                "with tool_calls may omit it",
                                i, role_name));
    }
    if (content->is_string()) continue;
    if (!content->is_array()) {
      return reject("schema", fmt::format("messages[{}].content must be a string or an array of "
                                          "content parts, got {}",
                                          i, content->is_object() ? "an object" : "a scalar"));
    }
    const json::array& parts = content->as_array();
    for (std::size_t k = 0; k < parts.size(); ++k) {
      const auto* part = parts[k].if_object();
      const auto* type = part != nullptr ? part->if_contains("type") : nullptr;
      if (type == nullptr || !type->is_string()) {
        return reject("schema", fmt::format("messages[{}].content[{}] is not a content part "
                                            "with a \"type\"",
                                            i, k));
      }
      if (type->as_string() == "text") {
        const auto* text = part->if_contains("text");
        if (text == nullptr || !text->is_string()) {
          return reject("schema",
                        fmt::format("messages[{}].content[{}] is a text part without a \"text\" "
                                    "string",
                                    i, k));
        }
      }
    }
  }
  if (p.max_messages && messages.size() > *p.max_messages) {
    return reject("max_messages", fmt::format("the request has {} messages; the limit is {}",
                                              messages.size(), *p.max_messages));
  }

  // The user id: the body's "user" and the one the caller passed.
  std::vector<std::pair<std::string, std::string>> ids;  // (where, id)
  if (const auto* user = request.if_contains("user")) {
    if (!user->is_string()) return reject("schema", "\"user\" must be a string");
    ids.emplace_back("the request's \"user\"", std::string(user->as_string()));
  }
  if (!user_id.empty()) ids.emplace_back("the user id", std::string(user_id));
  if (p.require_user_id && ids.empty()) {
    return reject("user_id_pattern", "the request has no user id (\"user\") and one is required");
  }
  if (c.user_id) {
    for (const auto& [where, id] : ids) {
      if (!RE2::FullMatch(id, *c.user_id)) {
        return reject("user_id_pattern", fmt::format("{} \"{}\" does not match {}", where,
                                                     id.size() > 64 ? id.substr(0, 64) + "..." : id,
                                                     p.user_id_pattern));
      }
    }
  }

  InputVerdict verdict;
  std::size_t total = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    json::object& m = messages[i].as_object();
    const json::string& role = m.at("role").as_string();
    const bool checked =
        std::find(p.check_roles.begin(), p.check_roles.end(),
                  std::string_view(role.data(), role.size())) != p.check_roles.end();
    json::value* content = m.if_contains("content");
    if (content == nullptr || content->is_null()) continue;
    // The message's text pieces: the content string, or each text part's "text".
    std::vector<json::string*> texts;
    if (content->is_string()) {
      texts.push_back(&content->as_string());
    } else {
      for (auto& part : content->as_array()) {
        auto& object = part.as_object();
        if (object.at("type").as_string() == "text")
          texts.push_back(&object.at("text").as_string());
      }
    }
    std::size_t chars = 0;
    for (json::string* text : texts) {
      std::string_view view(text->data(), text->size());
      if (checked) {
        if (const std::string* bad = findChar(view, c.refuse)) {
          return reject("reject_chars",
                        fmt::format("messages[{}] ({}) contains \"{}\", which is not allowed", i,
                                    std::string_view(role.data(), role.size()), *bad));
        }
        if (!c.strip.empty() && findChar(view, c.strip) != nullptr) {
          *text = stripChars(view, c.strip);
          view = std::string_view(text->data(), text->size());
          verdict.modified = true;
        }
        if (c.injection) {
          constexpr int kMaxPhrases = 64;
          const int groups = std::min<int>(kMaxPhrases, c.injection->NumberOfCapturingGroups());
          re2::StringPiece match[kMaxPhrases + 1];
          if (c.injection->Match(re2::StringPiece(view.data(), view.size()), 0, view.size(),
                                 RE2::UNANCHORED, match, groups + 1)) {
            std::string phrase(match[0].data(), match[0].size());
            for (int g = 1; g <= groups; ++g) {
              if (match[g].data() != nullptr) phrase = p.injection_phrases[g - 1];
            }
            const std::string what = fmt::format(
                "messages[{}] ({}) contains the injection "
                "phrase \"{}\"",
                i, std::string_view(role.data(), role.size()), phrase);
            if (p.injection_action == InjectionAction::kReject) {
              return reject("injection_phrase", what);
            }
            verdict.flags.push_back("injection_phrase: " + what);
          }
        }
      }
      chars += countChars(view);
    }
    if (checked && p.max_chars && chars > *p.max_chars) {
      return reject("max_chars",
                    fmt::format("messages[{}] ({}) has {} characters; the limit is {}", i,
                                std::string_view(role.data(), role.size()), chars, *p.max_chars));
    }
    total += chars;
  }
  if (p.max_total_chars && total > *p.max_total_chars) {
    return reject("max_total_chars",
                  fmt::format("the messages have {} characters together; the limit is {}", total,
                              *p.max_total_chars));
  }
  return verdict;
}

InputVerdict applyInputPolicy(const InputPolicy& policy, json::object& request,
                              std::string_view user_id) {
  auto validator = InputValidator::compile(policy);
  if (!validator) return reject("policy", validator.error().message);
  return validator->apply(request, user_id);
}

}  // namespace pharos::policy
