// Output sanitization applied to OpenAI chat-completions responses: a whole JSON body, or an SSE
// stream rewritten as it passes through. Only message text is touched (choices[i].message.content,
// choices[i].delta.content); tool calls, roles, usage and every other field pass unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "policy/output_sanitizer.h"

namespace pharos::policy {

// A chat.completion body with every choices[i].message.content (string) sanitized. nullopt when
// nothing changed (or the body is not a JSON object): send the original bytes.
std::optional<std::string> sanitizeChatCompletion(const OutputSanitizer& sanitizer,
                                                  std::string_view body,
                                                  Redactions* redactions = nullptr);

// Rewrites an upstream chat.completion.chunk event stream for the client. Events may be split
// anywhere ("\n\n" or "\r\n\r\n" ends one). Each choice's delta.content goes through a stream of
// its own; text held back is sent in that choice's later chunks, and flushed into the chunk that
// carries its finish_reason (before the finish), or in a chunk of its own before `data: [DONE]` or
// at the end. Events with no content and no finish_reason (usage, keep-alives) pass byte for byte;
// so do chunks whose text did not change. A chunk whose text was all held back is still sent, with
// empty content, so that roles and tool calls in it arrive on time.
class ChatStreamSanitizer {
 public:
  explicit ChatStreamSanitizer(const OutputSanitizer& sanitizer) : sanitizer_(sanitizer) {}

  // The bytes to send now.
  std::string feed(std::string_view bytes);
  // The upstream ended: an unterminated last event, then whatever is still held back.
  std::string finish();
  Redactions redactions() const;

 private:
  void onEvent(std::string_view raw, std::string& out);
  void flushAll(std::string& out, std::string_view eol);

  const OutputSanitizer& sanitizer_;
  std::string pending_;                                      // bytes of events not yet complete
  std::size_t line_start_ = 0;                               // in pending_: the line being read
  std::map<std::int64_t, OutputSanitizer::Stream> streams_;  // by choice index, until finished
  Redactions finished_;                                      // of streams already finished
  // From the last chunk, for chunks this class writes itself.
  std::string id_, model_;
  std::optional<std::int64_t> created_;
  bool done_ = false;
};

}  // namespace pharos::policy
