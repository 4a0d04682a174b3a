#include "otlp_gen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <unordered_map>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace pharos::bench {

namespace {

namespace pb = opentelemetry::proto;

constexpr std::uint64_t kNanosPerMs = 1'000'000;

std::string randomBytes(std::mt19937_64& rng, std::size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  out[0] = static_cast<char>(out[0] | 0x80);  // never all zeros
  return out;
}

std::string words(std::mt19937_64& rng, std::size_t approx_chars) {
  static constexpr const char* kWords[] = {
      "the",     "order",   "customer", "refund",   "policy",  "shipping", "delivery",
      "account", "invoice", "question", "answer",   "please",  "explain",  "summary",
      "context", "product", "warranty", "support",  "request", "status",   "tracking",
      "payment", "billing", "return",   "exchange", "within",  "thirty",   "days"};
  std::string out;
  while (out.size() < approx_chars) {
    if (!out.empty()) out.push_back(' ');
    out += kWords[rng() % std::size(kWords)];
  }
  return out;
}

void attr(pb::trace::v1::Span& span, const char* key, const std::string& value) {
  auto* kv = span.add_attributes();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}
void attr(pb::trace::v1::Span& span, const char* key, std::int64_t value) {
  auto* kv = span.add_attributes();
  kv->set_key(key);
  kv->mutable_value()->set_int_value(value);
}
void attr(pb::trace::v1::Span& span, const char* key, double value) {
  auto* kv = span.add_attributes();
  kv->set_key(key);
  kv->mutable_value()->set_double_value(value);
}

void resourceAttr(pb::resource::v1::Resource& resource, const char* key, const char* value) {
  auto* kv = resource.add_attributes();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

}  // namespace

OtlpBody makeOtlpBody(std::size_t spans, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  pb::collector::trace::v1::ExportTraceServiceRequest request;
  auto* resource_spans = request.add_resource_spans();
  auto* resource = resource_spans->mutable_resource();
  resourceAttr(*resource, "service.name", "support-bot");
  resourceAttr(*resource, "service.version", "1.4.2");
  resourceAttr(*resource, "deployment.environment", "production");
  resourceAttr(*resource, "telemetry.sdk.language", "python");
  resourceAttr(*resource, "telemetry.sdk.name", "opentelemetry");
  resourceAttr(*resource, "telemetry.sdk.version", "1.27.0");
  auto* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name("opentelemetry.instrumentation.openai");
  scope_spans->mutable_scope()->set_version("0.33.0");

  std::vector<std::string> trace_ids;
  const std::uint64_t base = 1'795'725'929'000ULL * kNanosPerMs;
  std::size_t made = 0;
  for (std::size_t trace = 0; made < spans; ++trace) {
    const std::string trace_id = randomBytes(rng, 16);
    trace_ids.push_back(trace_id);
    const std::string root_id = randomBytes(rng, 8);
    const std::uint64_t start = base + trace * 1000 * kNanosPerMs;
    const std::size_t in_trace = std::min<std::size_t>(8, spans - made);
    for (std::size_t i = 0; i < in_trace; ++i, ++made) {
      auto* span = scope_spans->add_spans();
      span->set_trace_id(trace_id);
      const std::uint64_t span_start = start + i * 50 * kNanosPerMs;
      span->set_start_time_unix_nano(span_start);
      span->set_end_time_unix_nano(span_start + (40 + rng() % 400) * kNanosPerMs);
      if (i == 0) {
        span->set_span_id(root_id);
        span->set_name("support_agent");
        span->set_kind(pb::trace::v1::Span::SPAN_KIND_SERVER);
        attr(*span, "gen_ai.operation.name", std::string("invoke_agent"));
        attr(*span, "gen_ai.agent.name", std::string("support_agent"));
        attr(*span, "user.id", fmt::format("user_{}", rng() % 10000));
        attr(*span, "session.id", fmt::format("sess_{}", rng() % 100000));
        continue;
      }
      const std::string span_id = randomBytes(rng, 8);
      span->set_span_id(span_id);
      span->set_parent_span_id(root_id);
      span->set_kind(pb::trace::v1::Span::SPAN_KIND_CLIENT);
      switch (i % 4) {
        case 1:
        case 3: {
          const std::int64_t input = 200 + static_cast<std::int64_t>(rng() % 1800);
          const std::int64_t output = 20 + static_cast<std::int64_t>(rng() % 400);
          span->set_name("chat gpt-4o-mini");
          attr(*span, "gen_ai.operation.name", std::string("chat"));
          attr(*span, "gen_ai.system", std::string("openai"));
          attr(*span, "gen_ai.request.model", std::string("gpt-4o-mini"));
          attr(*span, "gen_ai.response.model", std::string("gpt-4o-mini-2024-07-18"));
          attr(*span, "gen_ai.request.temperature", 0.2);
          attr(*span, "gen_ai.request.max_tokens", std::int64_t{512});
          attr(*span, "gen_ai.usage.input_tokens", input);
          attr(*span, "gen_ai.usage.output_tokens", output);
          attr(*span, "gen_ai.prompt.0.role", std::string("user"));
          attr(*span, "gen_ai.prompt.0.content", words(rng, 300));
          attr(*span, "gen_ai.completion.0.role", std::string("assistant"));
          attr(*span, "gen_ai.completion.0.content", words(rng, 200));
          attr(*span, "gen_ai.response.finish_reasons", std::string("stop"));
          break;
        }
        case 2:
          span->set_name("retrieve_documents");
          attr(*span, "openinference.span.kind", std::string("RETRIEVER"));
          attr(*span, "input.value", words(rng, 60));
          attr(*span, "retrieval.documents.count", std::int64_t{4});
          break;
        default:
          span->set_name("lookup_order");
          attr(*span, "gen_ai.operation.name", std::string("execute_tool"));
          attr(*span, "gen_ai.tool.name", std::string("lookup_order"));
          attr(*span, "order.id", fmt::format("ord_{}", rng() % 1000000));
          break;
      }
      if (rng() % 20 == 0) {
        span->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
        span->mutable_status()->set_message("upstream timed out");
        auto* event = span->add_events();
        event->set_name("exception");
        event->set_time_unix_nano(span_start + 30 * kNanosPerMs);
        auto* type = event->add_attributes();
        type->set_key("exception.type");
        type->mutable_value()->set_string_value("TimeoutError");
      }
    }
  }

  OtlpBody out;
  out.spans = spans;
  out.bytes = request.SerializeAsString();
  // Random 16- and 8-byte ids do not occur by chance in the rest of the body.
  auto find_all = [&](const std::string& id, std::vector<std::size_t>& offsets) {
    for (std::size_t at = out.bytes.find(id); at != std::string::npos;
         at = out.bytes.find(id, at + 1)) {
      offsets.push_back(at);
    }
  };
  for (const std::string& id : trace_ids) find_all(id, out.trace_id_offsets);
  return out;
}

void freshOtlpIds(const OtlpBody& tpl, std::string& body, std::uint64_t stream,
                  std::uint64_t counter) {
  // Pharos derives a span's run id from the trace id's first 8 bytes and the span id, so those
  // bytes carry (stream, counter) — unique per request — and the last 8 keep the template's,
  // which tell the traces of one body apart.
  const std::uint64_t prefix = (stream << 40) | (counter & ((std::uint64_t{1} << 40) - 1)) |
                               (std::uint64_t{1} << 63);  // never all zeros
  for (std::size_t at : tpl.trace_id_offsets) {
    for (int i = 0; i < 8; ++i) body[at + i] = static_cast<char>((prefix >> (56 - 8 * i)) & 0xff);
  }
}

}  // namespace pharos::bench
