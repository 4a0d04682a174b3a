// OTLP spans as runs: one data model for traces, so a span becomes the same RunFields a LangSmith
// client would have posted, and the run store derives status, latency, model, tokens and cost the
// same way (spec: otlp-genai.md §2.5, the recognition table).
//
// Identity: the run id is the UUID of the first 8 bytes of the trace id followed by the span id,
// the trace id is the UUID of the 16-byte OTLP trace id, and the parent run id is built like the
// run id. So a re-sent span upserts the same run, and a child names its parent before the parent
// arrives. There is no dotted_order (ancestors arrive in any order); the tree links by parent.
//
// What is recognised (first hit wins, the raw attributes are always kept):
//   project   pharos.project / langsmith.project / langsmith.trace.session_name attribute, else the
//             caller's override (x-pharos-project), else resource service.name, else "default"
//   run_type  langsmith.span.kind; openinference.span.kind; gen_ai.operation.name;
//             traceloop.span.kind; a model attribute -> llm; else chain
//   model     gen_ai.response.model, gen_ai.request.model, llm.model_name, ai.model.id
//   tokens    gen_ai.usage.input_tokens | prompt_tokens, llm.token_count.prompt,
//             ai.usage.promptTokens; the output side likewise; cache reads / reasoning kept as
//             details (already inside the input / output counts, never added again)
//   cost      llm.cost.{prompt,completion,total}, gen_ai.usage.cost (reported)
//   input     gen_ai.input.messages, gen_ai.prompt, input.value, ai.prompt.messages,
//             traceloop.entity.input, gen_ai.prompt.{i}.* (flattened)
//   output    gen_ai.output.messages, gen_ai.completion, output.value, ai.response.text,
//             traceloop.entity.output, gen_ai.completion.{i}.*
// Metadata (extra.metadata, filterable as metadata_key/metadata_value): every resource attribute,
// the scope's name and version (otel.scope.name, otel.scope.version), every span attribute (span
// wins), plus ls_model_name / ls_provider and usage_metadata for the figures recognised.
#pragma once

#include <string_view>

#include "tracing/ingest/otlp_decode.h"
#include "tracing/run.h"

namespace pharos::tracing::otlp {

// `project_override`: the x-pharos-project header, or empty.
RunFields spanToRun(const Span& span, std::string_view project_override);

}  // namespace pharos::tracing::otlp
