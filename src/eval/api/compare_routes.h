// GET /api/v1/datasets/{dataset_id}/compare: experiments on a dataset side by side, example by
// example, with their aggregates (docs/plans/evaluation.md §4.2).
#pragma once

#include <memory>

#include "eval/store/experiment_store.h"
#include "http/router.h"

namespace pharos::eval {

void addCompareRoutes(http::Router& router, std::shared_ptr<ExperimentStore> experiments);

}  // namespace pharos::eval
