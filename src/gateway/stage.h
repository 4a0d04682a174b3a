// The gateway's pipeline: every call passes through an ordered list of stages (input policy,
// usage accounting, cache, limits, ...) before routing sends it upstream, and its answer passes
// back through them in reverse order, as in Envoy's filter chains. A stage may refuse a call
// with a local reply, answer it from a cache (the answer still flows back through the stages
// before that one, so a cached answer is sanitized and counted like a fresh one), rewrite the
// request, rewrite the answer or the event stream, and settle its accounts once the call is over.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/call_record.h"
#include "gateway/dispatch.h"
#include "http/message.h"

namespace pharos::gateway {

enum class Endpoint { kChat, kEmbeddings };

// An answer a stage holds for the call (a cache hit): the upstream's bytes as they were stored.
struct StoredAnswer {
  std::string body;  // plain: the JSON response; stream: the whole event stream
  std::string content_type;
  bool stream = false;
};

// Everything the stages of one call share. Lives until the call is over (for a stream, until the
// stream has ended), on the call's I/O thread only.
class Stage;

struct Call {
  // The client's request: valid during the request phase (Stage::onRequest) only.
  const http::Request* request = nullptr;
  Endpoint endpoint = Endpoint::kChat;
  boost::json::object fields;  // the parsed request body
  // What goes upstream. A stage that changes `fields` re-serializes with setBody(); until then
  // the client's bytes go upstream unchanged.
  std::string body;
  bool stream = false;
  CallPlan plan;
  CallRecord record;
  Clock::time_point started;
  std::optional<StoredAnswer> stored_answer;  // set by a stage that answers the call itself

  // Pharos's own count of the prompt's tokens, once someone needed it (countedPromptTokens).
  std::optional<std::int64_t> counted_prompt_tokens;
  // The usage stage asked the upstream for stream usage the client did not ask for.
  bool strip_stream_usage = false;

  // Headers for the client's response (x-pharos-cache-status, ...), whatever the outcome.
  std::vector<std::pair<std::string, std::string>> response_headers;
  // The call's I/O executor, for work a stage starts and does not wait for (a cache write).
  asio::any_io_executor executor;

  // What a stage keeps for this call between its phases (one T per stage).
  template <class T>
  T& stateOf(const Stage* stage) {
    std::shared_ptr<void>& slot = stage_states_[stage];
    if (!slot) slot = std::make_shared<T>();
    return *static_cast<T*>(slot.get());
  }

  // Serializes `fields` into `body` after a stage changed them.
  void setBody();

 private:
  std::map<const Stage*, std::shared_ptr<void>> stage_states_;
};
// Rewrites one call's event stream on its way to the client.
class StreamFilter {
 public:
  virtual ~StreamFilter() = default;
  // The next bytes of the stream (any split); the filter may change, hold back or drop them.
  virtual void onData(std::string& bytes) = 0;
  // The stream ended cleanly: append whatever is still held back.
  virtual void onEnd(std::string& /*tail*/) {}
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;

  // Before the upstream call, in pipeline order. Returning a response refuses the call with it
  // (set call.record.error and error_class to say why); setting call.stored_answer answers it
  // without an upstream, and the stages after this one do not run.
  virtual asio::awaitable<std::optional<http::Response>> onRequest(Call& call) = 0;

  // The successful plain answer (from the upstream or a stored one), in reverse pipeline order;
  // may rewrite it.
  virtual void onAnswer(Call& /*call*/, std::string& /*body*/) {}

  // For a successful stream: a filter for its events, or null. Applied in reverse order.
  virtual std::unique_ptr<StreamFilter> streamFilter(Call& /*call*/) { return nullptr; }

  // Once the call is over, whatever the outcome (call.record says which), in reverse order, for
  // every stage whose onRequest ran: settle, store, count. Must not block.
  virtual void onComplete(Call& /*call*/) {}
};

}  // namespace pharos::gateway
