// The LangSmith-compatible dataset and example routes under /api/v1 (docs/plans/evaluation.md
// §2.1, §2.2): what langsmith's createDataset, createExamples (multipart), listExamples,
// readExample and readDataset call, plus versions, splits, deletes and attachment downloads.
// Every route is scoped to the caller's workspace.
#pragma once

#include <memory>

#include "eval/store/dataset_store.h"
#include "http/router.h"

namespace pharos::eval {

void addEvalRoutes(http::Router& router, std::shared_ptr<DatasetStore> datasets);

}  // namespace pharos::eval
