#include "gateway/token_count.h"

#include <boost/json/value.hpp>

#include "tokens/tokenizer.h"

namespace pharos::gateway {

namespace json = boost::json;

namespace {

tokens::Encoding encodingFor(std::string_view model) {
  return tokens::encodingForModel(model).value_or(tokens::Encoding::kCl100kBase);
}

}  // namespace

std::int64_t countRequestTokens(std::string_view model, const json::object& request, bool chat) {
  const tokens::Encoding encoding = encodingFor(model);
  if (chat) return static_cast<std::int64_t>(tokens::countChatPrompt(request, encoding));
  const tokens::Tokenizer& tokenizer = tokens::Tokenizer::get(encoding);
  const json::value* input = request.if_contains("input");
  if (input == nullptr) return 0;
  if (input->is_string()) return static_cast<std::int64_t>(tokenizer.count(input->get_string()));
  std::int64_t total = 0;
  if (input->is_array()) {
    for (const json::value& item : input->get_array()) {
      if (item.is_string()) {
        total += static_cast<std::int64_t>(tokenizer.count(item.get_string()));
      } else if (item.is_int64()) {
        ++total;  // already a token id
      } else if (item.is_array()) {
        total += static_cast<std::int64_t>(item.get_array().size());  // a list of token ids
      }
    }
  }
  return total;
}

std::int64_t countTextTokens(std::string_view model, std::string_view text) {
  return static_cast<std::int64_t>(tokens::Tokenizer::get(encodingFor(model)).count(text));
}

}  // namespace pharos::gateway
