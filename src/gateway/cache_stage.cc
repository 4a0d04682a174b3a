#include "gateway/cache_stage.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/crypto.h"
#include "core/log.h"
#include "gateway/openai_json.h"

namespace pharos::gateway {

namespace json = boost::json;

namespace {

// Request fields that do not change the answer: how the stream reports usage, who asks, tags.
constexpr std::string_view kIgnoredFields[] = {"stream_options", "user", "metadata"};

void appendCanonical(const json::value& value, std::string& out, bool top_level = false);

void appendCanonicalObject(const json::object& object, std::string& out, bool top_level) {
  std::vector<const json::key_value_pair*> members;
  members.reserve(object.size());
  for (const auto& member : object) {
    if (top_level && std::find(std::begin(kIgnoredFields), std::end(kIgnoredFields),
                               member.key()) != std::end(kIgnoredFields)) {
      continue;
    }
    members.push_back(&member);
  }
  std::sort(members.begin(), members.end(),
            [](const auto* a, const auto* b) { return a->key() < b->key(); });
  out.push_back('{');
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += json::serialize(json::string_view(members[i]->key()));
    out.push_back(':');
    appendCanonical(members[i]->value(), out);
  }
  out.push_back('}');
}

// JSON with object keys sorted (and, at the top, the ignored fields left out): the same request
// however its client ordered it.
void appendCanonical(const json::value& value, std::string& out, bool top_level) {
  switch (value.kind()) {
    case json::kind::object:
      appendCanonicalObject(value.get_object(), out, top_level);
      return;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const json::value& item : value.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        appendCanonical(item, out);
      }
      out.push_back(']');
      return;
    }
    default:
      out += json::serialize(value);
  }
}

std::string keyOf(const Call& call, const json::object& fields) {
  const std::string first_target =
      call.plan.route.targets.empty() ? std::string() : call.plan.route.targets.front().label;
  std::string material = fmt::format("pharos-cache-v1\n{}\n{}\n{}\n", call.record.workspace_name,
                                     call.record.model, first_target);
  appendCanonicalObject(fields, material, true);
  return core::toHex(core::sha256(material));
}

// Stored answers: "<stream|plain>\n<content type>\n<body>".
std::string encodeAnswer(bool stream, std::string_view content_type, std::string_view body) {
  std::string out = stream ? "stream\n" : "plain\n";
  out += content_type;
  out.push_back('\n');
  out += body;
  return out;
}

std::optional<StoredAnswer> decodeAnswer(std::string_view stored) {
  const std::size_t first = stored.find('\n');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = stored.find('\n', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  const std::string_view kind = stored.substr(0, first);
  if (kind != "stream" && kind != "plain") return std::nullopt;
  StoredAnswer answer;
  answer.stream = kind == "stream";
  answer.content_type = std::string(stored.substr(first + 1, second - first - 1));
  answer.body = std::string(stored.substr(second + 1));
  return answer;
}

// The text of a message's content: a string, or the text parts of an array.
std::optional<std::string> contentText(const json::value* content) {
  if (content == nullptr) return std::nullopt;
  if (content->is_string()) return std::string(content->get_string());
  if (!content->is_array()) return std::nullopt;
  std::string text;
  for (const json::value& part : content->get_array()) {
    if (!part.is_object()) continue;
    const json::value* type = part.get_object().if_contains("type");
    const json::value* value = part.get_object().if_contains("text");
    if (type != nullptr && type->is_string() && type->get_string() == "text" && value != nullptr &&
        value->is_string()) {
      if (!text.empty()) text.push_back('\n');
      text.append(value->get_string());
    }
  }
  return text;
}

enum class CacheMode { kNormal, kNoCache, kNoStore };

struct CallState {
  CacheMode mode = CacheMode::kNormal;
  std::string key;  // exact key; empty when the call is not cacheable
  std::optional<SemanticQuery> semantic;
  std::vector<float> embedding;  // of the semantic query, once made
};

// Keeps a stream as it passes, to store it once it ended cleanly.
class CaptureFilter final : public StreamFilter {
 public:
  CaptureFilter(CacheStage& stage, Call& call, std::size_t max_bytes)
      : stage_(stage), call_(call), max_bytes_(max_bytes) {
    captured_.reserve(kTypicalStreamBytes);  // one allocation instead of a string of growths
  }
  void onData(std::string& bytes) override {
    if (overflow_) return;
    if (captured_.size() + bytes.size() > max_bytes_) {
      overflow_ = true;
      captured_.clear();
      captured_.shrink_to_fit();
      return;
    }
    captured_ += bytes;
  }
  void onEnd(std::string& tail) override {
    onData(tail);
    // A stream that carried an error event is not an answer to keep.
    if (!overflow_ && captured_.find("data: {\"error\"") == std::string::npos &&
        captured_.find("data:{\"error\"") == std::string::npos) {
      stage_.store(call_, std::move(captured_), true);
    }
  }

 private:
  static constexpr std::size_t kTypicalStreamBytes = 8 * 1024;
  CacheStage& stage_;
  Call& call_;
  std::size_t max_bytes_;
  std::string captured_;
  bool overflow_ = false;
};

}  // namespace

std::string exactCacheKey(const Call& call) {
  return keyOf(call, call.fields);
}

std::optional<SemanticQuery> semanticQuery(const Call& call) {
  const json::value* messages = call.fields.if_contains("messages");
  if (messages == nullptr || !messages->is_array()) return std::nullopt;
  const json::array& list = messages->get_array();
  for (std::size_t i = list.size(); i-- > 0;) {
    if (!list[i].is_object()) continue;
    const json::value* role = list[i].get_object().if_contains("role");
    if (role == nullptr || !role->is_string() || role->get_string() != "user") continue;
    auto text = contentText(list[i].get_object().if_contains("content"));
    if (!text || text->empty()) return std::nullopt;
    json::object without = call.fields;
    without["messages"].get_array()[i].get_object()["content"] = nullptr;
    return SemanticQuery{std::move(*text), keyOf(call, without)};
  }
  return std::nullopt;
}

CacheStage::CacheStage(CacheOptions options, std::shared_ptr<state::CacheStore> store,
                       Embedder embedder, http::MetricsRegistry& metrics)
    : options_(std::move(options)),
      store_(std::move(store)),
      embedder_(std::move(embedder)),
      index_(options_.semantic_max_entries),
      lookups_(metrics.counter("pharos_gateway_cache_total",
                               "Gateway cache lookups by result (hit, semantic_hit, miss, bypass)",
                               {"result"})) {}

asio::awaitable<std::optional<http::Response>> CacheStage::onRequest(Call& call) {
  if (call.endpoint != Endpoint::kChat || !call.plan.route.cache) co_return std::nullopt;
  CallState& state = call.stateOf<CallState>(this);
  if (auto header = call.request->header("x-pharos-cache")) {
    if (*header == "no-cache") {
      state.mode = CacheMode::kNoCache;
    } else if (*header == "no-store") {
      state.mode = CacheMode::kNoStore;
    } else {
      call.record.error =
          fmt::format("header x-pharos-cache must be no-cache or no-store, got \"{}\"", *header);
      call.record.error_class = "invalid_request";
      co_return openAiError(400, "invalid_request_error", *call.record.error);
    }
  }
  if (state.mode == CacheMode::kNoStore) {
    call.record.cache_status = "bypass";
    call.response_headers.emplace_back("x-pharos-cache-status", "bypass");
    lookups_.with({"bypass"}).inc();
    co_return std::nullopt;
  }
  state.key = exactCacheKey(call);
  call.record.cache_status = "miss";
  if (state.mode == CacheMode::kNoCache) {
    call.record.cache_status = "bypass";
    call.response_headers.emplace_back("x-pharos-cache-status", "bypass");
    lookups_.with({"bypass"}).inc();
    co_return std::nullopt;
  }

  // The awaitable is made first: GCC 12 mishandles argument temporaries inside co_await.
  auto lookup = store_->get(state.key);
  std::optional<std::string> stored = co_await std::move(lookup);
  std::optional<StoredAnswer> answer;
  if (stored) answer = decodeAnswer(*stored);
  if (answer && answer->stream == call.stream) {
    call.stored_answer = std::move(answer);
    call.record.cache_status = "hit";
    call.response_headers.emplace_back("x-pharos-cache-status", "hit");
    lookups_.with({"hit"}).inc();
    co_return std::nullopt;
  }

  if (options_.semantic) {
    state.semantic = semanticQuery(call);
    if (state.semantic) {
      auto embedding_call = embedder_(call, state.semantic->text);
      auto embedding = co_await std::move(embedding_call);
      if (embedding) {
        state.embedding = std::move(*embedding);
        const auto match = index_.nearest(state.semantic->scope, state.embedding);
        if (match) call.record.semantic_similarity = match->similarity;
        if (match && match->similarity >= options_.semantic_threshold) {
          auto similar_lookup = store_->get(match->answer_key);
          std::optional<std::string> similar = co_await std::move(similar_lookup);
          std::optional<StoredAnswer> similar_answer;
          if (similar) similar_answer = decodeAnswer(*similar);
          if (similar_answer && similar_answer->stream == call.stream) {
            call.stored_answer = std::move(similar_answer);
            call.record.cache_status = "semantic-hit";
            call.response_headers.emplace_back("x-pharos-cache-status", "semantic-hit");
            lookups_.with({"semantic_hit"}).inc();
            co_return std::nullopt;
          }
        }
      }
    }
  }
  call.response_headers.emplace_back("x-pharos-cache-status", "miss");
  lookups_.with({"miss"}).inc();
  co_return std::nullopt;
}

void CacheStage::onAnswer(Call& call, std::string& body) {
  if (call.endpoint != Endpoint::kChat || call.stored_answer) return;
  if (body.size() > options_.max_answer_bytes) return;
  store(call, body, false);
}

std::unique_ptr<StreamFilter> CacheStage::streamFilter(Call& call) {
  if (call.endpoint != Endpoint::kChat || call.stored_answer) return nullptr;
  const CallState& state = call.stateOf<CallState>(this);
  if (state.key.empty()) return nullptr;
  return std::make_unique<CaptureFilter>(*this, call, options_.max_answer_bytes);
}

void CacheStage::store(Call& call, std::string answer, bool stream) {
  CallState& state = call.stateOf<CallState>(this);
  if (state.key.empty() || state.mode == CacheMode::kNoStore) return;
  std::string value =
      encodeAnswer(stream, stream ? "text/event-stream" : "application/json", answer);
  // The semantic index learns the prompt once its answer is stored under the exact key.
  std::function<void()> index_prompt;
  if (state.semantic && !state.embedding.empty()) {
    index_prompt = [this, scope = state.semantic->scope, embedding = state.embedding,
                    key = state.key]() mutable { index_.add(scope, embedding, std::move(key)); };
  }
  asio::co_spawn(
      call.executor,
      [store = store_, key = state.key, value = std::move(value), ttl = options_.ttl,
       index_prompt = std::move(index_prompt)]() mutable -> asio::awaitable<void> {
        auto put = store->put(std::move(key), std::move(value), ttl);
        co_await std::move(put);
        if (index_prompt) index_prompt();
      },
      asio::detached);
}

}  // namespace pharos::gateway
