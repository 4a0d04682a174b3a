// Fuzzes the output sanitizer (policy/output_sanitizer) and its OpenAI SSE rewriting: model output
// and upstream bytes are untrusted. The first byte picks split points; the rest is the text.
// Invariants beyond "no crash, no UB": streamed in three pieces or byte by byte, the output equals
// sanitize() of the whole; the stream never holds more than maxHoldback() outside a code block
// (checked when the text has no backtick); the SSE rewriter, fed whole or split, sends the same
// bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/openai_output.h"
#include "policy/output_sanitizer.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

const pharos::policy::OutputSanitizer& sanitizer() {
  static const auto s = [] {
    pharos::policy::OutputPolicy p;
    p.forbidden_code.push_back({"python", "import os"});
    p.forbidden_code.push_back({"", "rm -rf"});
    p.max_code_block_bytes = 256;
    return pharos::policy::OutputSanitizer::compile(p).value();
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto& s = sanitizer();
  const std::string whole = s.sanitize(text);

  const std::size_t a = text.empty() ? 0 : data[0] % (text.size() + 1);
  const std::size_t b = a + (text.size() - a) / 2;
  auto stream = s.stream();
  std::string out = stream.feed(text.substr(0, a));
  out += stream.feed(text.substr(a, b - a));
  out += stream.feed(text.substr(b));
  out += stream.finish();
  check(out == whole);

  if (text.size() <= 4096) {
    const bool fences = text.find('`') != std::string_view::npos;
    auto bytes = s.stream();
    std::string streamed;
    for (char c : text) {
      streamed += bytes.feed(std::string_view(&c, 1));
      if (!fences) check(bytes.held() <= s.maxHoldback());
    }
    streamed += bytes.finish();
    check(streamed == whole);
  }

  // The same bytes as an upstream event stream.
  pharos::policy::ChatStreamSanitizer one(s), two(s);
  std::string sse_one = one.feed(text);
  sse_one += one.finish();
  std::string sse_two = two.feed(text.substr(0, a));
  sse_two += two.feed(text.substr(a));
  sse_two += two.finish();
  check(sse_one == sse_two);
  (void)pharos::policy::sanitizeChatCompletion(s, text);
  return 0;
}
