// A `.env` file parser: the format Docker Compose and most dotenv libraries accept.
//
//   # comment                   blank lines and lines starting with '#' are skipped
//   KEY=value                   whitespace around the key and the value is trimmed
//   export KEY=value            the shell's `export ` prefix is allowed and ignored
//   KEY=value # note            an unquoted value ends before " #"
//   KEY='literal # $ \n'        single quotes: taken as is, no escapes
//   KEY="line\nnext \"q\" \\"  double quotes: \n \r \t \" \\ are the escapes
//
// A value must fit on its line. Parsing stops at the first bad line; the error names the line and
// what is wrong, never the value (a .env file often holds secrets).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::core {

struct DotenvEntry {
  std::string key;
  std::string value;
  std::size_t line = 0;  // 1-based
};

struct DotenvError {
  std::size_t line = 0;  // 1-based
  std::string reason;
};

struct DotenvParseResult {
  std::vector<DotenvEntry> entries;  // in file order; a key may repeat (the last one wins)
  std::optional<DotenvError> error;  // when set, entries is empty

  bool ok() const { return !error.has_value(); }
};

DotenvParseResult parseDotenv(std::string_view text);

}  // namespace pharos::core
