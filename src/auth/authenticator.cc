#include "auth/authenticator.h"

#include <fmt/format.h>

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

std::string_view presentedKey(const http::Request& request) {
  if (auto key = request.header("x-api-key")) return trim(*key);
  if (auto authorization = request.header("authorization")) {
    std::string_view value = trim(*authorization);
    if (value.size() > 7 && (value.substr(0, 7) == "Bearer " || value.substr(0, 7) == "bearer ")) {
      return trim(value.substr(7));
    }
  }
  return {};
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
    const http::Request& request) {
  if (mode_ == core::AuthMode::kNone) co_return fallback_;
  const std::string_view key = presentedKey(request);
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
    if (auto it = cache_.find(id); it != cache_.end() && now - it->second.fetched_at < cache_ttl_) {
      co_return it->second.record;
    }
  }
  auto found = co_await keys_->findApiKey(id);
  if (!found) {
    co_return Error::unavailable("cannot check the API key: " + found.error().message);
  }
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= kMaxCachedKeys) cache_.clear();  // bounded: random ids cannot grow it
  cache_[id] = CachedKey{found.value(), now};
  co_return found.value();
}

}  // namespace pharos::auth
