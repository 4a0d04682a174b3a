// Small operations on OpenAI request and response JSON that must leave everything else byte for
// byte as the client sent it (so unknown fields, number spellings and key order pass through).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "http/message.h"

namespace pharos::gateway {

// The byte range [first, second) of the value of a top-level member of a JSON object text, or
// nullopt when absent. The text must already be known to be a valid JSON object.
std::optional<std::pair<std::size_t, std::size_t>> findTopLevelValue(std::string_view object,
                                                                     std::string_view key);

// The object text with the top-level "model" value replaced by `model` (a JSON string).
std::string withModel(std::string_view object, std::string_view model);

// The object text with one top-level member added (or its value replaced); `value_json` is the
// value's JSON text.
std::string withMember(std::string_view object, std::string_view key, std::string_view value_json);

// Whether `text` is one complete JSON value, checked without building it (no allocation per
// value): how an upstream's answer is validated before it is passed on byte for byte.
bool isJson(std::string_view text);

// An error in the OpenAI shape: {"error":{"message","type","param","code"}}.
http::Response openAiError(unsigned status, std::string_view type, std::string_view message,
                           std::string_view code = {}, std::string_view param = {});

}  // namespace pharos::gateway
