// LangSmith feedback under /api/v1 (plan: docs/plans/evaluation.md §2.3): POST /feedback as
// langsmith's createFeedback sends it, GET /feedback as listFeedback pages it, and GET, PATCH and
// DELETE /feedback/{feedback_id}.
#pragma once

#include <boost/json/object.hpp>
#include <memory>

#include "http/router.h"
#include "tracing/store/feedback_store.h"

namespace pharos::tracing {

void addFeedbackRoutes(http::Router& router, std::shared_ptr<FeedbackStore> store);

// The Feedback JSON of the API: {id, run_id, trace_id, session_id, key, score, value, comment,
// correction, feedback_source, extra, created_at, modified_at}, plus start_time,
// comparative_experiment_id and feedback_config when set.
boost::json::object feedbackJson(const Feedback& feedback);

// The body of POST /feedback (createFeedback's, JS or Python) and of PATCH /feedback/{id};
// kInvalidArgument naming the member at fault. Exposed for the fuzz target.
core::Result<Feedback> parseFeedbackCreate(const boost::json::object& body);
core::Result<FeedbackUpdate> parseFeedbackUpdate(const boost::json::object& body);

}  // namespace pharos::tracing
