// `pharos tokens`: the token ids (or counts) of each line of standard input, as tiktoken.
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#include "app/commands.h"
#include "tokens/tokenizer.h"

namespace pharos::app {

int tokensCommand(const TokensOptions& options) {
  std::optional<tokens::Encoding> encoding;
  if (!options.encoding.empty()) {
    encoding = tokens::parseEncoding(options.encoding);
    if (!encoding) {
      throw std::runtime_error(fmt::format(
          "unknown encoding \"{}\" (known: cl100k_base, o200k_base)", options.encoding));
    }
  } else if (!options.model.empty()) {
    encoding = tokens::encodingForModel(options.model);
    if (!encoding) {
      throw std::runtime_error(
          fmt::format("no known encoding for model \"{}\": pass --encoding cl100k_base|o200k_base",
                      options.model));
    }
  } else {
    throw std::runtime_error("pass --encoding cl100k_base|o200k_base or --model NAME");
  }
  const tokens::Tokenizer& tokenizer = tokens::Tokenizer::get(*encoding);

  std::ios::sync_with_stdio(false);
  std::string line;
  std::string out;
  std::size_t line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    std::string text;
    if (options.json) {
      // Each line a JSON string: lets a line's text hold newlines.
      boost::system::error_code ec;
      const boost::json::value parsed = boost::json::parse(line, ec);
      if (ec || !parsed.is_string()) {
        throw std::runtime_error(
            fmt::format("line {}: --json needs a JSON string on every line", line_number));
      }
      text = parsed.get_string();
    } else {
      text = std::move(line);
    }
    out.clear();
    if (options.count) {
      out = std::to_string(tokenizer.count(text));
    } else {
      for (const std::uint32_t id : tokenizer.encode(text)) {
        if (!out.empty()) out += ' ';
        out += std::to_string(id);
      }
    }
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

}  // namespace pharos::app
