#include "app/ops_routes.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <mutex>
#include <optional>

namespace pharos::app {

namespace {
constexpr std::chrono::seconds kProbeReuse{1};
}  // namespace

void addOpsRoutes(http::Router& router, std::shared_ptr<store::Store> store,
                  const http::MetricsRegistry& metrics) {
  const http::RouteOptions open{.is_public = true};

  router.add(
      http::Verb::get, "/healthz",
      [](http::Request&) -> http::Awaitable<http::Response> {
        co_return http::Response::json(200, R"({"status":"ok"})");
      },
      open);

  // /readyz is public and each probe is a durable write: remember the last answer for a second
  // so that a flood of probes cannot keep the writer and the disk busy.
  struct ProbeCache {
    std::mutex mutex;
    std::chrono::steady_clock::time_point at;
    std::optional<core::Status> result;
  };
  auto cache = std::make_shared<ProbeCache>();
  router.add(
      http::Verb::get, "/readyz",
      [store, cache](http::Request&) -> http::Awaitable<http::Response> {
        std::optional<core::Status> recent;
        {
          std::lock_guard lock(cache->mutex);
          if (cache->result && std::chrono::steady_clock::now() - cache->at < kProbeReuse) {
            recent = cache->result;
          }
        }
        core::Status writable;
        if (recent) {
          writable = *recent;
        } else {
          writable = co_await store->probeWritable();
          std::lock_guard lock(cache->mutex);
          cache->result = writable;
          cache->at = std::chrono::steady_clock::now();
        }
        if (!writable) {
          boost::json::value body = {{"status", "unavailable"},
                                     {"store", store->describe()},
                                     {"error", writable.error().message}};
          http::Response response = http::Response::json(503, boost::json::serialize(body));
          response.header("retry-after", "5");
          co_return response;
        }
        boost::json::value body = {{"status", "ready"}, {"store", store->describe()}};
        co_return http::Response::json(200, boost::json::serialize(body));
      },
      open);

  router.add(
      http::Verb::get, "/metrics",
      [&metrics](http::Request&) -> http::Awaitable<http::Response> {
        co_return http::Response::text(200, metrics.render(), "text/plain; version=0.0.4");
      },
      open);

  router.add(http::Verb::get, "/api/v1/auth/whoami",
             [](http::Request& request) -> http::Awaitable<http::Response> {
               const http::Identity& who = request.identity();
               boost::json::value body = {{"workspace_id", who.workspace_id},
                                          {"workspace", who.workspace_name},
                                          {"key_id", who.key_id},
                                          {"authenticated", !who.key_id.empty()}};
               co_return http::Response::json(200, boost::json::serialize(body));
             });
}

}  // namespace pharos::app
