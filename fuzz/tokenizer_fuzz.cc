// Fuzzes the tokenizers with arbitrary bytes (the text is untrusted): encode never crashes or
// reads out of bounds, whatever the UTF-8; decode(encode(x)) == x for any bytes (invalid ones
// keep their own byte tokens); count(x) == encode(x).size(). The first input byte picks the
// encoding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokens/tokenizer.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pharos::tokens;
  if (size == 0) return 0;
  const Encoding encoding = (data[0] & 1) ? Encoding::kO200kBase : Encoding::kCl100kBase;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Tokenizer& tokenizer = Tokenizer::get(encoding);
  const auto ids = tokenizer.encode(text);
  check(tokenizer.count(text) == ids.size());
  check(tokenizer.decode(ids) == text);
  check(ids.size() <= text.size());
  return 0;
}
