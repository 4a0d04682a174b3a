// Pharos's own token counts, for upstreams that report no usage and for limits that must be
// checked before the upstream is asked: tiktoken's encodings (cl100k_base, o200k_base) chosen by
// model name, cl100k_base for models tiktoken does not know.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string_view>

namespace pharos::gateway {

// A chat request's prompt (OpenAI's per-message accounting), or an embeddings request's input.
std::int64_t countRequestTokens(std::string_view model, const boost::json::object& request,
                                bool chat);

std::int64_t countTextTokens(std::string_view model, std::string_view text);

}  // namespace pharos::gateway
