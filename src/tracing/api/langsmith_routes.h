// The LangSmith-compatible HTTP API under /api/v1 (spec: langsmith-api.md): server info, run
// ingest (single, batch, multipart), run reads and queries with the filter language, projects
// ("sessions") and their stats, and whole traces as trees.
#pragma once

#include <memory>

#include "core/settings.h"
#include "http/router.h"
#include "tracing/store/run_store.h"

namespace pharos::tracing {

void addLangSmithRoutes(http::Router& router, std::shared_ptr<RunStore> store,
                        const core::TracingSettings& settings, std::string_view version);

}  // namespace pharos::tracing
