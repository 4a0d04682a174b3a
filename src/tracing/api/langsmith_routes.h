// The LangSmith-compatible HTTP API under /api/v1 (spec: langsmith-api.md): server info, run
// ingest (single, batch, multipart), run reads and queries with the filter language, projects
// ("sessions") and their stats, and whole traces as trees.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/settings.h"
#include "http/router.h"
#include "tracing/store/run_store.h"

namespace pharos::tracing {

// More fields for a project's JSON under include_stats=true, from modules that build on tracing
// (evaluation adds feedback_stats and experiment_stats); called with the workspace and project.
using ProjectStatsFields = std::function<boost::asio::awaitable<core::Result<boost::json::object>>(
    std::string workspace_id, Project project)>;

void addLangSmithRoutes(http::Router& router, std::shared_ptr<RunStore> store,
                        const core::TracingSettings& settings, std::string_view version,
                        ProjectStatsFields more_stats = {});

}  // namespace pharos::tracing
