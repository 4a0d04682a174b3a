// The semantic cache's index: for each scope (workspace, model, everything in the request but the
// last user message), the embeddings of cached prompts in an HNSW graph (hnswlib), searched by
// cosine similarity. Each scope keeps its newest `max_entries` prompts: once full, a new prompt
// takes the slot of the oldest. Thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

namespace pharos::gateway {

class SemanticIndex {
 public:
  explicit SemanticIndex(std::size_t max_entries_per_scope);
  ~SemanticIndex();
  SemanticIndex(const SemanticIndex&) = delete;
  SemanticIndex& operator=(const SemanticIndex&) = delete;

  struct Match {
    std::string answer_key;  // the exact-cache key of the prompt's answer
    double similarity = 0;   // cosine, in [-1, 1]
  };

  // The most similar prompt of the scope, if it has any. The embedding need not be normalized;
  // a zero vector matches nothing.
  std::optional<Match> nearest(const std::string& scope, std::span<const float> embedding) const;

  void add(const std::string& scope, std::span<const float> embedding, std::string answer_key);

  std::size_t scopes() const;

 private:
  struct Scope;
  std::size_t max_entries_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Scope>, std::less<>> scopes_;
};

}  // namespace pharos::gateway
