// Follows an OpenAI chat-completions event stream as it passes through to the client, without
// holding any of it back: splits it into events, notes [DONE], finish reasons, an upstream error
// event and usage (wherever it arrives: a final chunk with empty `choices`, or inside the last
// chunk that still has choices), and assembles the message(s) for the call's record.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::gateway {

class StreamAssembler {
 public:
  // assemble = false: only follow the stream's state ([DONE], finish, error), which needs no JSON
  // parse of ordinary chunks; assembled() then holds no message.
  explicit StreamAssembler(bool assemble = true) : assemble_(assemble) {}

  void feed(std::string_view bytes);

  bool sawDone() const { return done_; }
  bool sawFinish() const { return finished_; }
  bool sawError() const { return error_; }
  std::size_t events() const { return events_; }
  const std::optional<boost::json::object>& usage() const { return usage_; }
  // As a chat.completion object: id, model, choices with the assembled messages, usage.
  boost::json::object assembled() const;

 private:
  struct ToolCall {
    std::string id, type, name, arguments;
  };
  struct Choice {
    std::string role;
    std::string content;
    bool has_content = false;
    std::map<std::int64_t, ToolCall> tool_calls;
    std::optional<std::string> finish_reason;
  };
  void onLine(std::string_view line);
  void onEvent(std::string_view data);

  bool assemble_;
  std::string line_;  // an unfinished line
  std::string data_;  // the data lines of the event in progress
  bool has_data_ = false;
  bool done_ = false;
  bool finished_ = false;
  bool error_ = false;
  std::size_t events_ = 0;
  std::string id_, model_;
  std::optional<std::int64_t> created_;
  std::map<std::int64_t, Choice> choices_;
  std::optional<boost::json::object> usage_;
  std::optional<boost::json::object> error_body_;
};

}  // namespace pharos::gateway
