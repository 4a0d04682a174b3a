#include "auth/authenticator.h"

#include <fmt/format.h>

#include <boost/beast/core/string.hpp>

#include "auth/api_key.h"
#include "core/crypto.h"

namespace pharos::auth {

using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxCachedKeys = 10'000;

Error unauthenticated(std::string message) {
  return Error{ErrorCode::kUnauthenticated, std::move(message)};
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool isPlaceholder(std::string_view key) {
  return key.empty() || key == "undefined" || key == "null";
}

}  // namespace

std::string_view presentedKey(const http::RequestHead& head) {
  std::string_view api_key;
  if (auto it = head.find("x-api-key"); it != head.end()) {
    api_key = trim(it->value());
    if (!isPlaceholder(api_key)) return api_key;
  }
  if (auto it = head.find(boost::beast::http::field::authorization); it != head.end()) {
    std::string_view value = trim(it->value());
    if (value.size() > 7 && boost::beast::iequals(value.substr(0, 7), "bearer ")) {
      return trim(value.substr(7));
    }
  }
  return api_key;
}

KeyAuthenticator::KeyAuthenticator(std::shared_ptr<store::ApiKeyStore> keys,
                                   const core::AuthSettings& settings, bool keys_required,
                                   http::Identity fallback, http::Identity bootstrap)
    : keys_(std::move(keys)),
      mode_(settings.mode),
      keys_required_(keys_required),
      bootstrap_key_sha256_(settings.bootstrap_key.empty()
                                ? std::string()
                                : core::sha256(settings.bootstrap_key.reveal())),
      cache_ttl_(settings.key_cache_ttl),
      fallback_(std::move(fallback)),
      bootstrap_(std::move(bootstrap)) {}

http::Awaitable<core::Result<http::Identity>> KeyAuthenticator::authenticate(
    const http::RequestHead& head) {
  if (mode_ == core::AuthMode::kNone) co_return fallback_;
  const std::string_view key = presentedKey(head);
  if (isPlaceholder(key)) {
    if (!keys_required_) co_return fallback_;
    co_return unauthenticated(
        "this server requires an API key: send it as x-api-key or Authorization: Bearer "
        "(create one with `pharos keys create --workspace NAME`)");
  }
  if (!bootstrap_key_sha256_.empty() &&
      core::constantTimeEqual(core::sha256(key), bootstrap_key_sha256_)) {
    co_return bootstrap_;
  }
  const std::optional<ParsedKey> parsed = parseKey(key);
  if (!parsed) {
    if (!keys_required_ && !looksLikePharosKey(key)) co_return fallback_;
    co_return unauthenticated("the API key is malformed: Pharos keys look like phk_<id>_<secret>");
  }
  auto found = co_await lookup(std::string(parsed->id));
  if (!found) co_return found.error();
  const std::optional<store::ApiKeyRecord>& record = found.value();
  // Hash and compare even for an unknown id, so timing does not tell ids apart.
  const std::string presented_sha256 = core::sha256(parsed->secret);
  const bool secret_matches =
      record && core::constantTimeEqual(presented_sha256, record->secret_sha256);
  if (!secret_matches) co_return unauthenticated("the API key is not valid");
  if (record->revoked_at) {
    co_return unauthenticated(fmt::format("the API key {} has been revoked", record->id));
  }
  co_return http::Identity{record->workspace_id, record->workspace_name, record->id};
}

http::Awaitable<core::Result<std::optional<store::ApiKeyRecord>>> KeyAuthenticator::lookup(
    std::string id) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(cache_mutex_);
    for (const auto* cache : {&cache_, &unknown_cache_}) {
      if (auto it = cache->find(id);
          it != cache->end() && now - it->second.fetched_at < cache_ttl_) {
        co_return it->second.record;
      }
    }
  }
  auto found = co_await keys_->findApiKey(id);
  if (!found) {
    co_return Error::unavailable("cannot check the API key: " + found.error().message);
  }
  std::lock_guard lock(cache_mutex_);
  // Unknown ids are remembered apart, so a flood of random ids can evict only each other, never
  // the keys real clients use.
  auto& cache = found.value() ? cache_ : unknown_cache_;
  if (cache.size() >= kMaxCachedKeys) cache.clear();
  cache[id] = CachedKey{found.value(), now};
  co_return found.value();
}

}  // namespace pharos::auth
