#pragma once

// Byte-pair-encoding tokenizer identical to OpenAI's tiktoken for cl100k_base and o200k_base:
// same pre-tokenization (a hand-written scanner for each encoding's regex), same merge ranks
// (embedded at build time from npm tiktoken's rank files), same ids.
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::tokens {

enum class Encoding { kCl100kBase, kO200kBase };

std::string_view encodingName(Encoding encoding);  // "cl100k_base", "o200k_base"
std::optional<Encoding> parseEncoding(std::string_view name);

// The encoding a model's tokens are counted in, as tiktoken's model and prefix tables: gpt-4o*,
// gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*, o4*, chatgpt-4o* are o200k_base; gpt-4*, gpt-3.5*,
// text-embedding-3-*, text-embedding-ada-002 are cl100k_base. A leading "provider/" is ignored.
// Unknown models: nullopt.
std::optional<Encoding> encodingForModel(std::string_view model);

class Tokenizer {
 public:
  // Built once per encoding on first use (about 10-30 ms); safe from any thread.
  static const Tokenizer& get(Encoding encoding);

  // tiktoken's encode_ordinary: special-token strings such as "<|endoftext|>" are plain text.
  // Invalid UTF-8 never fails: each byte that does not start a valid sequence is pre-tokenized
  // as U+FFFD would be (a symbol) but keeps its own byte, so decode(encode(x)) == x for any
  // bytes. tiktoken itself only takes valid text (callers replace bad bytes by U+FFFD first), so
  // for such input the ids differ from "replace, then tiktoken" while counts stay close.
  std::vector<std::uint32_t> encode(std::string_view utf8) const;
  // encode(utf8).size() without building the vector.
  std::size_t count(std::string_view utf8) const;
  // The bytes of the tokens (special token ids decode to their text). Throws
  // std::invalid_argument naming the first id that is not in the encoding.
  std::string decode(std::span<const std::uint32_t> tokens) const;

  Encoding encoding() const { return encoding_; }

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  struct Data;  // rank table; defined in tokenizer.cc

 private:
  explicit Tokenizer(Encoding encoding);
  template <class Sink>
  void run(std::string_view text, Sink& sink) const;

  Encoding encoding_;
  std::unique_ptr<Data> data_;
};

// Prompt tokens of an OpenAI chat-completions request body ({"messages": [...], ...}), as
// OpenAI's cookbook num_tokens_from_messages counts them: 3 per message, +1 per message with a
// "name", the tokens of every string value of role, name and content (string content, or the
// "text" of each {"type":"text"} part of an array), +3 priming the reply. Not what the API
// bills to the token: tool calls, tool results' extra fields and tool definitions are counted
// as the tokens of their JSON text (OpenAI's exact formatting of them is not public), images and
// audio parts not at all. Messages or fields of the wrong type are skipped, never thrown on.
std::size_t countChatPrompt(const boost::json::object& request, Encoding encoding);

}  // namespace pharos::tokens
