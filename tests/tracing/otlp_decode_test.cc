// OTLP trace export decoding, protobuf and JSON: every attribute kind, events, status, resource and
// scope; and the per-span rejections (bad or zero ids, a logs export on the traces path, huge or
// deeply nested values) that leave the valid spans of the same request intact.
#include "tracing/ingest/otlp_decode.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace pharos::tracing::otlp {
namespace {

namespace json = boost::json;
namespace pb = opentelemetry::proto;

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

const std::string kTrace = bytes({0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6,
                                  0x33, 0x81, 0x3f, 0xc6, 0x0c});
const std::string kRoot = bytes({0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74});
const std::string kChild = bytes({0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x75});

void setString(pb::common::v1::KeyValue* kv, const std::string& key, const std::string& value) {
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

pb::collector::trace::v1::ExportTraceServiceRequest twoSpanRequest() {
  pb::collector::trace::v1::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  setString(rs->mutable_resource()->add_attributes(), "service.name", "chatbot");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("my-tracer");
  ss->mutable_scope()->set_version("1.2.3");
  auto* root = ss->add_spans();
  root->set_trace_id(kTrace);
  root->set_span_id(kRoot);
  root->set_name("handle_request");
  root->set_kind(pb::trace::v1::Span::SPAN_KIND_SERVER);
  root->set_start_time_unix_nano(1795725929000000000ULL);
  root->set_end_time_unix_nano(1795725929500000000ULL);
  auto* child = ss->add_spans();
  child->set_trace_id(kTrace);
  child->set_span_id(kChild);
  child->set_parent_span_id(kRoot);
  child->set_name("chat gpt-4o");
  child->set_start_time_unix_nano(1795725929100000000ULL);
  child->set_end_time_unix_nano(1795725929400000000ULL);
  child->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
  child->mutable_status()->set_message("rate limited");
  setString(child->add_attributes(), "gen_ai.request.model", "gpt-4o");
  auto* tokens = child->add_attributes();
  tokens->set_key("gen_ai.usage.input_tokens");
  tokens->mutable_value()->set_int_value(120);
  auto* temperature = child->add_attributes();
  temperature->set_key("gen_ai.request.temperature");
  temperature->mutable_value()->set_double_value(0.5);
  auto* stream = child->add_attributes();
  stream->set_key("stream");
  stream->mutable_value()->set_bool_value(true);
  auto* list = child->add_attributes();
  list->set_key("stop");
  list->mutable_value()->mutable_array_value()->add_values()->set_string_value("\n");
  auto* kv = child->add_attributes();
  kv->set_key("nested");
  setString(kv->mutable_value()->mutable_kvlist_value()->add_values(), "a", "b");
  auto* raw = child->add_attributes();
  raw->set_key("raw");
  raw->mutable_value()->set_bytes_value("hi");
  auto* event = child->add_events();
  event->set_name("exception");
  event->set_time_unix_nano(1795725929300000000ULL);
  setString(event->add_attributes(), "exception.message", "429");
  return request;
}

TEST(OtlpProtobufTest, DecodesSpansWithEveryAttributeKind) {
  auto decoded = decodeProtobuf(twoSpanRequest().SerializeAsString());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->rejected, 0);
  ASSERT_EQ(decoded->spans.size(), 2u);
  const Span& root = decoded->spans[0];
  EXPECT_EQ(root.trace_id, "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(root.span_id, "eee19b7ec3c1b174");
  EXPECT_FALSE(root.parent_span_id);
  EXPECT_EQ(root.kind, 2);
  EXPECT_EQ(root.start_time_unix_nano, 1795725929000000000ULL);
  EXPECT_EQ(root.resource->at("service.name"), "chatbot");
  EXPECT_EQ(root.scope->at("name"), "my-tracer");
  EXPECT_EQ(root.scope->at("version"), "1.2.3");
  const Span& child = decoded->spans[1];
  EXPECT_EQ(child.parent_span_id, "eee19b7ec3c1b174");
  EXPECT_EQ(child.status_code, StatusCode::kError);
  EXPECT_EQ(child.status_message, "rate limited");
  EXPECT_EQ(json::value(child.attributes), json::parse(R"({
      "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 120,
      "gen_ai.request.temperature": 0.5, "stream": true, "stop": ["\n"],
      "nested": {"a": "b"}, "raw": "aGk="})"));
  ASSERT_EQ(child.events.size(), 1u);
  EXPECT_EQ(child.events[0].at("name"), "exception");
  EXPECT_EQ(child.events[0].at("attributes").at("exception.message"), "429");
  EXPECT_EQ(child.resource, root.resource) << "one resource object shared by its spans";
}

TEST(OtlpProtobufTest, BadSpansAreRejectedAndTheRestKept) {
  auto request = twoSpanRequest();
  auto* spans = request.mutable_resource_spans(0)->mutable_scope_spans(0);
  auto* short_id = spans->add_spans();
  *short_id = spans->spans(0);
  short_id->set_name("short");
  short_id->set_trace_id("abc");
  auto* zero = spans->add_spans();
  *zero = spans->spans(0);
  zero->set_name("zero");
  zero->set_span_id(std::string(8, '\0'));
  auto* huge = spans->add_spans();
  *huge = spans->spans(0);
  huge->set_name("huge");
  setString(huge->add_attributes(), "prompt", std::string(kMaxAttributeValueBytes + 1, 'x'));
  auto* deep = spans->add_spans();
  *deep = spans->spans(0);
  deep->set_name("deep");
  auto* value = deep->add_attributes();
  value->set_key("d");
  pb::common::v1::AnyValue* at = value->mutable_value();
  for (std::size_t i = 0; i < kMaxAttributeDepth + 2; ++i) {
    at = at->mutable_array_value()->add_values();
  }
  at->set_int_value(1);

  auto decoded = decodeProtobuf(request.SerializeAsString());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->spans.size(), 2u);
  EXPECT_EQ(decoded->rejected, 4);
  ASSERT_EQ(decoded->reasons.size(), 4u);
  EXPECT_EQ(decoded->reasons[0], R"(span "short": trace_id: expected 16 bytes, got 3)");
  EXPECT_EQ(decoded->reasons[1], R"(span "zero": span_id: all zeros is not a valid id)");
  EXPECT_NE(decoded->reasons[2].find(R"(span "huge": attribute "prompt": value of 1048577 bytes)"),
            std::string::npos)
      << decoded->reasons[2];
  EXPECT_NE(decoded->reasons[3].find("nested deeper than 32 levels"), std::string::npos)
      << decoded->reasons[3];

  // The acknowledgement path counts by the same rules without building the spans.
  auto counts = validateProtobuf(request.SerializeAsString());
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  EXPECT_EQ(counts->accepted, 2);
  EXPECT_EQ(counts->rejected, 4);
  EXPECT_EQ(counts->reasons, decoded->reasons);
}

TEST(OtlpProtobufTest, GarbageAndTruncatedBodiesAreErrors) {
  const std::string whole = twoSpanRequest().SerializeAsString();
  for (const std::string& body : {std::string("\xff\xff\xff\xff", 4), whole.substr(0, 40),
                                  whole.substr(0, whole.size() - 3)}) {
    auto decoded = decodeProtobuf(body);
    ASSERT_FALSE(decoded.ok()) << body.size();
    EXPECT_NE(decoded.error().message.find("not an OTLP ExportTraceServiceRequest"),
              std::string::npos);
    auto counts = validateProtobuf(body);
    ASSERT_FALSE(counts.ok()) << body.size();
    EXPECT_EQ(counts.error().message, decoded.error().message);
  }
  auto empty = decodeProtobuf("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->spans.empty());
}

// What @opentelemetry/exporter-trace-otlp-http sends (spec §1.5): lower-case hex ids, timestamps
// as strings, intValue as a number, kind as an integer, no parentSpanId on the root.
constexpr std::string_view kJsExport = R"({"resourceSpans":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"chatbot"}}],
              "droppedAttributesCount":0},
  "scopeSpans":[{"scope":{"name":"seed-app"},"spans":[
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"llm_call",
     "kind":1,"startTimeUnixNano":"1795725929000000000","endTimeUnixNano":"1795725929500000000",
     "attributes":[{"key":"prompt.length","value":{"intValue":42}},
                   {"key":"model","value":{"stringValue":"gpt-4o"}},
                   {"key":"duration_ms","value":{"doubleValue":500.5}},
                   {"key":"tokens.total","value":{"intValue":"150"}}],
     "droppedAttributesCount":0,"events":[],"droppedEventsCount":0,
     "status":{"code":0},"links":[],"droppedLinksCount":0,"flags":257},
    {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B175",
     "parentSpanId":"eee19b7ec3c1b174","name":"child","kind":3,
     "startTimeUnixNano":1795725929100000000,"endTimeUnixNano":"1795725929200000000",
     "status":{"code":2,"message":"boom"},
     "events":[{"timeUnixNano":"1795725929150000000","name":"exception",
                "attributes":[{"key":"exception.type","value":{"stringValue":"Error"}}]}]}
  ]}]}]})";

TEST(OtlpJsonTest, DecodesWhatTheJsExporterSends) {
  auto decoded = decodeJson(kJsExport);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->rejected, 0) << (decoded->reasons.empty() ? "" : decoded->reasons[0]);
  ASSERT_EQ(decoded->spans.size(), 2u);
  const Span& root = decoded->spans[0];
  EXPECT_EQ(root.trace_id, "5b8efff798038103d269b633813fc60c");
  EXPECT_FALSE(root.parent_span_id);
  EXPECT_EQ(root.start_time_unix_nano, 1795725929000000000ULL);
  EXPECT_EQ(json::value(root.attributes),
            json::parse(R"({"prompt.length":42,"model":"gpt-4o","duration_ms":500.5,
                            "tokens.total":150})"));
  EXPECT_EQ(root.resource->at("service.name"), "chatbot");
  const Span& child = decoded->spans[1];
  EXPECT_EQ(child.span_id, "eee19b7ec3c1b175") << "hex ids are case-insensitive";
  EXPECT_EQ(child.parent_span_id, "eee19b7ec3c1b174");
  EXPECT_EQ(child.start_time_unix_nano, 1795725929100000000ULL) << "numbers work too";
  EXPECT_EQ(child.status_code, StatusCode::kError);
  EXPECT_EQ(child.status_message, "boom");
  ASSERT_EQ(child.events.size(), 1u);
  EXPECT_EQ(child.events[0].at("attributes").at("exception.type"), "Error");
}

TEST(OtlpJsonTest, BadSpansAreRejectedByName) {
  const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"ok"},
    {"traceId":"00000000000000000000000000000000","spanId":"eee19b7ec3c1b174","name":"zero"},
    {"traceId":"5b8e","spanId":"eee19b7ec3c1b174","name":"short"},
    {"spanId":"eee19b7ec3c1b174","name":"missing"},
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"xyz19b7ec3c1b174","name":"nothex"},
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b176","name":"object",
     "attributes":{"a":"b"}},
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b177","name":"time",
     "startTimeUnixNano":"soon"}
  ]}]}]})";
  auto decoded = decodeJson(body);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_EQ(decoded->spans.size(), 1u);
  EXPECT_EQ(decoded->spans[0].name, "ok");
  EXPECT_EQ(decoded->rejected, 6);
  ASSERT_EQ(decoded->reasons.size(), 5u) << "reasons are capped; the count is exact";
  EXPECT_EQ(decoded->reasons[0], R"(span "zero": traceId: all zeros is not a valid id)");
  EXPECT_EQ(decoded->reasons[1], R"(span "short": traceId: expected 32 hex digits)");
  EXPECT_EQ(decoded->reasons[2], R"(span "missing": traceId: missing)");
  EXPECT_EQ(decoded->reasons[3], R"(span "nothex": spanId: expected 16 hex digits)");
  EXPECT_NE(decoded->reasons[4].find("attributes: expected a list of {key, value} objects"),
            std::string::npos)
      << decoded->reasons[4];
}

TEST(OtlpJsonTest, UnreadableBodiesAndOtherSignalsAreErrors) {
  for (std::string_view body : {"", "{", "[]", R"({"resourceSpans":5})"}) {
    auto decoded = decodeJson(body);
    EXPECT_FALSE(decoded.ok()) << body;
  }
  auto logs = decodeJson(R"({"resourceLogs":[{"scopeLogs":[]}]})");
  ASSERT_FALSE(logs.ok());
  EXPECT_EQ(logs.error().message,
            "body: this is an OTLP Logs export, not traces; send it to its own path, not "
            "/v1/traces");
  auto empty = decodeJson("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->spans.empty());
}

}  // namespace
}  // namespace pharos::tracing::otlp
