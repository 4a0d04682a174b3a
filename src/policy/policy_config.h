// The [gateway.policies.NAME.input] and [gateway.policies.NAME.output] tables of pharos.toml.
// `where` is the table's dotted path ("gateway.policies.strict.input"); errors name the key's
// full path, the reason and the file:line it came from, like the rest of the config:
//   gateway.policies.strict.input.max_chars: expected a whole number from 1 to ..., got "x"
//   (from pharos.toml:12)
// Unknown keys are errors. Regular expressions are compiled here, so a bad one stops start-up.
#pragma once

#include <toml++/toml.h>

#include <string_view>

#include "core/result.h"
#include "policy/input_validation.h"
#include "policy/output_sanitizer.h"

namespace pharos::policy {

// Keys: max_chars, max_messages, max_total_chars (whole numbers >= 1), user_id_pattern,
// require_user_id, strip_chars, reject_chars, injection_phrases (array of strings; omitted = the
// built-in kDefaultInjectionPhrases; [] = none), injection_action ("reject" | "flag"),
// check_roles (array of role names).
core::Result<InputPolicy> parseInputPolicy(const toml::table& table, std::string_view where);

// Keys: redact (array of detector names; omitted = all), replacements (table detector = "text"),
// forbidden_code (array of { language = "python", contains = "import os" }), code_replacement,
// max_code_block_bytes.
core::Result<OutputPolicy> parseOutputPolicy(const toml::table& table, std::string_view where);

}  // namespace pharos::policy
