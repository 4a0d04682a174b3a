// Small operations on OpenAI request and response JSON that must leave everything else byte for
// byte as the client sent it (so unknown fields, number spellings and key order pass through).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
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

// Whether `text` has `"key"` followed (after optional blanks and a colon) by a value starting with
// `value_start`: a cheap look at a chunk before parsing it ("usage" with an object, not null).
bool hasMemberStartingWith(std::string_view text, std::string_view key, char value_start);

// An integer member (int64 or uint64 in Boost.JSON's terms), or nullopt.
std::optional<std::int64_t> integerAt(const boost::json::object& object, std::string_view key);

// The text of every choice's `member` ("message" or "delta") content string, concatenated.
std::string choicesText(const boost::json::object& answer, std::string_view member);

// An error in the OpenAI shape: {"error":{"message","type","param","code"}}.
http::Response openAiError(unsigned status, std::string_view type, std::string_view message,
                           std::string_view code = {}, std::string_view param = {});

}  // namespace pharos::gateway
