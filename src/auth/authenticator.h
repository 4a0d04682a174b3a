// Resolves every request to a workspace from its API key (x-api-key, or Authorization: Bearer).
//
// auth.mode: `required` needs a valid key; `none` ignores keys; `auto` (default) is `required`
// unless the server listens on loopback only. When keys are optional, a request without a key,
// with an empty one, or with the literal "undefined"/"null" (what the LangSmith JS client sends
// when it has no key), or with a non-Pharos placeholder such as the "sk-..." an OpenAI SDK
// insists on, belongs to the default workspace; a malformed, unknown or revoked Pharos-shaped key
// ("phk_...") is still refused, since it is a real key gone wrong.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/settings.h"
#include "http/server.h"
#include "store/store.h"

namespace pharos::auth {

class KeyAuthenticator final : public http::Authenticator {
 public:
  // `fallback` is the default workspace (keys optional) and `bootstrap` the workspace of
  // auth.bootstrap_key; both ensured by the caller at start-up.
  KeyAuthenticator(std::shared_ptr<store::ApiKeyStore> keys, const core::AuthSettings& settings,
                   bool keys_required, http::Identity fallback, http::Identity bootstrap);

  http::Awaitable<core::Result<http::Identity>> authenticate(
      const http::RequestHead& head) override;

 private:
  struct CachedKey {
    std::optional<store::ApiKeyRecord> record;  // nullopt: no such key
    std::chrono::steady_clock::time_point fetched_at;
  };
  http::Awaitable<core::Result<std::optional<store::ApiKeyRecord>>> lookup(std::string id);

  std::shared_ptr<store::ApiKeyStore> keys_;
  core::AuthMode mode_;
  bool keys_required_;
  std::string bootstrap_key_sha256_;  // empty when no bootstrap key is configured
  std::chrono::milliseconds cache_ttl_;
  http::Identity fallback_;
  http::Identity bootstrap_;
  std::mutex cache_mutex_;
  std::unordered_map<std::string, CachedKey> cache_;          // keys that exist
  std::unordered_map<std::string, CachedKey> unknown_cache_;  // ids with no key
};

// The key a request presents: x-api-key, else Authorization: Bearer; "" when none. A placeholder
// x-api-key ("", "undefined", "null") does not hide a real key sent as Authorization: Bearer.
std::string_view presentedKey(const http::RequestHead& head);

}  // namespace pharos::auth
