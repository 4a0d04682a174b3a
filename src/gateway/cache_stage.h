// The response cache. Exact: a chat completion identical to an earlier one (same workspace,
// model and request, every field that can change the answer) is answered with the stored answer,
// a stream replayed as a stream. Semantic (optional): the last user message is embedded through
// the gateway's own embedding model and the nearest cached prompt of the same scope (workspace,
// model, and everything else in the request) is served when its cosine similarity reaches the
// threshold. Per request, x-pharos-cache: no-cache (do not look up) or no-store (neither look up
// nor store); x-pharos-cache-status tells the client what happened.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "core/result.h"
#include "gateway/semantic_index.h"
#include "gateway/stage.h"
#include "http/metrics.h"
#include "state/cache_store.h"

namespace pharos::gateway {

struct CacheOptions {
  std::chrono::milliseconds ttl{3'600'000};
  std::size_t max_answer_bytes = 8 * 1024 * 1024;  // larger answers are not stored
  bool semantic = false;
  std::string semantic_model;
  double semantic_threshold = 0.95;
  std::size_t semantic_max_entries = 10'000;
};

// Embeds `text` for `call` (recording the embedding call under it).
using Embedder = std::function<asio::awaitable<core::Result<std::vector<float>>>(
    Call& call, const std::string& text)>;

// The exact-cache key of a request: SHA-256 over the workspace, the model, its first target and
// the request with object keys sorted, without the fields that cannot change the answer
// (stream_options, user, metadata). Hex.
std::string exactCacheKey(const Call& call);

// The text the semantic cache embeds (the last user message), and the scope it is compared in
// (the exact key of the request with that message's content taken out). Nullopt when the request
// has no user message with text.
struct SemanticQuery {
  std::string text;
  std::string scope;
};
std::optional<SemanticQuery> semanticQuery(const Call& call);

class CacheStage final : public Stage {
 public:
  CacheStage(CacheOptions options, std::shared_ptr<state::CacheStore> store, Embedder embedder,
             http::MetricsRegistry& metrics);

  std::string_view name() const override { return "cache"; }
  asio::awaitable<std::optional<http::Response>> onRequest(Call& call) override;
  void onAnswer(Call& call, std::string& body) override;
  std::unique_ptr<StreamFilter> streamFilter(Call& call) override;

  // Stores an answer for the call (plain body or whole stream), and indexes its prompt.
  void store(Call& call, std::string answer, bool stream);

 private:
  CacheOptions options_;
  std::shared_ptr<state::CacheStore> store_;
  Embedder embedder_;
  SemanticIndex index_;
  http::CounterFamily& lookups_;
};

}  // namespace pharos::gateway
