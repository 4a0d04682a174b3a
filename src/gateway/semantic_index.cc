#include "gateway/semantic_index.h"

// Debian's hnswlib 0.6.2, built with its SSE path, prefetches through a value read one past the
// end of a neighbour list (searchBaseLayer: *(datal + j + 1)): a heap over-read that ASan reports.
// Without manual vectorization that read is gone; the distance loops are plain C++ the compiler
// vectorizes, and a lookup stays in microseconds for embedding-sized vectors.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <cmath>
#include <vector>

namespace pharos::gateway {

namespace {

// Unit length, so that hnswlib's inner-product distance (1 - dot) is 1 - cosine; empty when the
// vector has no direction (or is not finite).
std::vector<float> normalized(std::span<const float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) return {};
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] / norm);
  return out;
}

}  // namespace

struct SemanticIndex::Scope {
  Scope(std::size_t dimensions, std::size_t capacity)
      : dimensions(dimensions),
        space(dimensions),
        graph(&space, capacity, /*M=*/16, /*ef_construction=*/100) {
    graph.setEf(32);
    keys.resize(capacity);
  }
  std::size_t dimensions;
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> graph;
  std::vector<std::string> keys;  // by label (slot)
  std::size_t added = 0;          // slots are reused oldest-first once every one is taken
};

SemanticIndex::SemanticIndex(std::size_t max_entries_per_scope)
    : max_entries_(std::max<std::size_t>(max_entries_per_scope, 1)) {}

SemanticIndex::~SemanticIndex() = default;

std::optional<SemanticIndex::Match> SemanticIndex::nearest(const std::string& scope,
                                                           std::span<const float> embedding) const {
  const std::vector<float> query = normalized(embedding);
  if (query.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = scopes_.find(scope);
  if (it == scopes_.end() || it->second->added == 0) return std::nullopt;
  const Scope& s = *it->second;
  if (s.dimensions != query.size()) return std::nullopt;
  auto found = s.graph.searchKnn(query.data(), 1);
  if (found.empty()) return std::nullopt;
  const auto [distance, label] = found.top();
  return Match{s.keys[label], 1.0 - static_cast<double>(distance)};
}

void SemanticIndex::add(const std::string& scope, std::span<const float> embedding,
                        std::string answer_key) {
  const std::vector<float> point = normalized(embedding);
  if (point.empty()) return;
  std::lock_guard lock(mutex_);
  auto& slot = scopes_[scope];
  if (!slot || slot->dimensions != point.size()) {
    slot = std::make_unique<Scope>(point.size(), max_entries_);
  }
  Scope& s = *slot;
  const std::size_t label = s.added % max_entries_;
  // A label already in the graph is updated in place: the oldest prompt gives way.
  s.graph.addPoint(point.data(), label);
  s.keys[label] = std::move(answer_key);
  ++s.added;
}

std::size_t SemanticIndex::scopes() const {
  std::lock_guard lock(mutex_);
  return scopes_.size();
}

}  // namespace pharos::gateway
