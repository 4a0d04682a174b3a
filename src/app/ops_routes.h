// Operations endpoints: /healthz (alive), /readyz (store open and writable), /metrics
// (Prometheus), and /api/v1/auth/whoami (which workspace a key belongs to).
#pragma once

#include <memory>

#include "http/metrics.h"
#include "http/router.h"
#include "store/store.h"

namespace pharos::app {

void addOpsRoutes(http::Router& router, std::shared_ptr<store::Store> store,
                  const http::MetricsRegistry& metrics);

}  // namespace pharos::app
