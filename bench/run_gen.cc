#include "run_gen.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <random>
#include <unordered_map>

#include "core/json_text.h"

namespace pharos::bench {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void writeHex(char* out, std::uint64_t value, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = kHex[value & 0xf];
    value >>= 4;
  }
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
std::int64_t daysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  int year;
  unsigned month, day;
};

Civil civilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int>(y + (m <= 2 ? 1 : 0)), m, d};
}

// The SDK's getMicrosecondPrecisionDatestring: ISO milliseconds, then the execution order
// (first three digits of it, zero-padded) in place of the microseconds.
std::string microsecondDatestring(std::int64_t epoch_ms, int execution_order) {
  const std::int64_t days =
      epoch_ms >= 0 ? epoch_ms / 86'400'000 : (epoch_ms - 86'399'999) / 86'400'000;
  const std::int64_t ms_of_day = epoch_ms - days * 86'400'000;
  const Civil c = civilFromDays(days);
  std::string order = std::to_string(execution_order).substr(0, 3);
  order.insert(0, 3 - order.size(), '0');
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}Z", c.year, c.month, c.day,
                     ms_of_day / 3'600'000, ms_of_day / 60'000 % 60, ms_of_day / 1000 % 60,
                     ms_of_day % 1000, order);
}

std::string dottedSegment(std::string_view iso, std::string_view id) {
  std::string out;
  out.reserve(iso.size() + id.size());
  for (char c : iso) {
    if (c != '-' && c != ':' && c != '.') out.push_back(c);
  }
  out.append(id);
  return out;
}

void appendTags(std::string& out, const std::vector<std::string>& tags) {
  out.push_back('[');
  for (std::size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out.push_back(',');
    core::appendJsonString(out, tags[i]);
  }
  out.push_back(']');
}

void collectStrings(const boost::json::value& value, std::string& text) {
  switch (value.kind()) {
    case boost::json::kind::string:
      text.append(value.get_string().data(), value.get_string().size());
      text.push_back('\n');
      break;
    case boost::json::kind::array:
      for (const auto& item : value.get_array()) collectStrings(item, text);
      break;
    case boost::json::kind::object:
      for (const auto& item : value.get_object()) collectStrings(item.value(), text);
      break;
    default:
      break;
  }
}

constexpr std::array<std::string_view, 96> kWords = {
    "the",      "customer",  "order",       "shipping",     "refund",   "policy",    "account",
    "invoice",  "payment",   "delivery",    "address",      "product",  "warranty",  "return",
    "within",   "thirty",    "days",        "support",      "ticket",   "agent",     "please",
    "confirm",  "details",   "about",       "recent",       "purchase", "update",    "status",
    "tracking", "number",    "package",     "arrived",      "damaged",  "replace",   "item",
    "store",    "credit",    "balance",     "subscription", "renewal",  "cancel",    "plan",
    "premium",  "features",  "include",     "priority",     "access",   "monthly",   "annual",
    "discount", "coupon",    "code",        "expired",      "valid",    "until",     "next",
    "week",     "question",  "answer",      "context",      "document", "section",   "according",
    "handbook", "states",    "that",        "employees",    "may",      "request",   "approval",
    "manager",  "before",    "travel",      "expenses",     "exceed",   "limit",     "report",
    "summary",  "quarterly", "revenue",     "growth",       "region",   "europe",    "asia",
    "forecast", "model",     "temperature", "tokens",       "latency",  "retrieval", "index",
    "vector",   "search",    "results",     "relevant",     "score",
};

constexpr std::array<std::string_view, 12> kRootNames = {
    "SupportAgent", "RAGPipeline",  "InvoiceExtractor", "TicketRouter",
    "ChatBot",      "Summarizer",   "SQLAgent",         "ResearchAssistant",
    "EmailDrafter", "CodeReviewer", "Classifier",       "Translator",
};

constexpr std::array<std::string_view, 8> kRootTags = {
    "production", "beta", "experimental", "v2", "customer-facing", "eval", "nightly", "canary",
};

struct Model {
  std::string_view provider, name;
};
constexpr std::array<Model, 4> kModels = {{
    {"openai", "gpt-4o-mini"},
    {"openai", "gpt-4o"},
    {"anthropic", "claude-3-5-sonnet-20241022"},
    {"openai", "gpt-4.1-nano"},
}};

}  // namespace

IdGenerator::IdGenerator(std::uint64_t stream, std::uint64_t salt)
    : millis_(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count())),
      stream_(stream) {
  std::random_device device;
  high_ = (device() ^ salt) & 0xfff;
}

void IdGenerator::next(char* out) {
  // 62 bits after the variant: 16 bits of stream, 46 bits of counter.
  const std::uint64_t tail = ((stream_ & 0xffff) << 46) | (counter_++ & ((1ull << 46) - 1));
  writeHex(out, millis_ >> 16, 8);
  out[8] = '-';
  writeHex(out + 9, millis_ & 0xffff, 4);
  out[13] = '-';
  out[14] = '7';
  writeHex(out + 15, high_, 3);
  out[18] = '-';
  writeHex(out + 19, 0x8000 | (tail >> 48), 4);
  out[23] = '-';
  writeHex(out + 24, tail & 0xffff'ffff'ffffull, 12);
}

std::string IdGenerator::next() {
  std::string id(kUuidLength, '0');
  next(id.data());
  return id;
}

std::int64_t dayMicros(int year, int month, int day) {
  return daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
         86'400'000'000LL;
}

std::string TreeGenerator::sentence(int n) {
  std::string out;
  std::uniform_int_distribution<std::size_t> pick(0, kWords.size() - 1);
  for (int i = 0; i < n; ++i) {
    if (i > 0) out.push_back(' ');
    out.append(kWords[pick(rng_)]);
  }
  return out;
}

std::string TreeGenerator::words(std::size_t approx_chars) {
  std::string out;
  std::uniform_int_distribution<std::size_t> pick(0, kWords.size() - 1);
  while (out.size() < approx_chars) {
    if (!out.empty()) out.push_back(' ');
    out.append(kWords[pick(rng_)]);
  }
  return out;
}

void TreeGenerator::tree(const TreeOptions& options, IdGenerator& ids, std::vector<GenRun>& out) {
  const std::size_t first = out.size();
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng_); };

  // Per-trace metadata, inherited by every run (LangChain/traceable propagate metadata).
  std::string conversation_id = ids.next();
  const std::string user_id = fmt::format("user-{}", uniform(0, 4999));
  const std::string env = chance(0.8) ? "production" : "staging";
  const std::string root_name(
      kRootNames[static_cast<std::size_t>(uniform(0, kRootNames.size() - 1))]);
  const Model& model = kModels[static_cast<std::size_t>(uniform(0, kModels.size() - 1))];
  const double temperature = static_cast<double>(uniform(0, 10)) / 10.0;
  int execution_order = 0;

  // Adds a run that starts at `start_ms`; its end is set later. Returns its index in `out`.
  auto add = [&](std::string_view name, std::string_view run_type, int parent,
                 std::int64_t start_ms, int depth) -> std::size_t {
    GenRun run;
    run.id = ids.next();
    run.name = std::string(name);
    run.run_type = std::string(run_type);
    run.session_name = options.session_name;
    run.start_iso = microsecondDatestring(start_ms, ++execution_order);
    std::string order = std::to_string(execution_order).substr(0, 3);
    run.start_us = start_ms * 1000 + std::stoll(order);
    const std::string segment = dottedSegment(run.start_iso, run.id);
    if (parent < 0) {
      run.is_root = true;
      run.trace_id = run.id;
      run.dotted_order = segment;
    } else {
      const GenRun& p = out[static_cast<std::size_t>(parent)];
      run.trace_id = p.trace_id;
      run.parent_run_id = p.id;
      run.dotted_order = p.dotted_order + "." + segment;
    }
    run.thread_id = conversation_id;
    const bool llm = run_type == "llm";
    std::string extra = "{\"metadata\":{";
    extra += fmt::format(
        "\"user_id\":\"{}\",\"conversation_id\":\"{}\",\"env\":\"{}\",\"revision_id\":\"v1.4.2\","
        "\"LANGSMITH_TRACING\":\"true\",\"LANGSMITH_PROJECT\":{},\"ls_run_depth\":{}",
        user_id, conversation_id, env, core::jsonString(options.session_name), depth);
    if (llm) {
      extra += fmt::format(
          ",\"ls_provider\":\"{}\",\"ls_model_name\":\"{}\",\"ls_model_type\":\"chat\","
          "\"ls_temperature\":{}",
          model.provider, model.name, temperature);
      run.model = std::string(model.name);
    }
    extra +=
        "},\"runtime\":{\"library\":\"langsmith\",\"runtime\":\"node\",\"sdk\":\"langsmith-js\","
        "\"sdk_version\":\"0.10.5\",\"platform\":\"linux\",\"runtime_version\":\"v20.20.0\"}}";
    run.extra = std::move(extra);

    // ~1 KB of inputs and outputs, shaped by run type.
    if (llm) {
      run.inputs = fmt::format(
          "{{\"messages\":[{{\"role\":\"system\",\"content\":\"{}\"}},{{\"role\":\"user\","
          "\"content\":\"{}\"}}],\"model\":\"{}\",\"temperature\":{}}}",
          words(160), words(200), model.name, temperature);
      const std::int64_t in = uniform(150, 2500), outn = uniform(20, 600);
      run.outputs = fmt::format(
          "{{\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{}\"}},"
          "\"finish_reason\":\"stop\"}}],\"usage_metadata\":{{\"input_tokens\":{},"
          "\"output_tokens\":{},\"total_tokens\":{}}}}}",
          words(400), in, outn, in + outn);
      run.prompt_tokens = in;
      run.completion_tokens = outn;
      run.total_tokens = in + outn;
    } else if (run_type == "retriever") {
      run.inputs = fmt::format("{{\"query\":\"{}\"}}", words(120));
      std::string docs;
      for (int i = 0; i < 3; ++i) {
        if (i > 0) docs.push_back(',');
        docs += fmt::format(
            "{{\"page_content\":\"{}\",\"metadata\":{{\"source\":\"kb/"
            "doc-{}.md\",\"score\":0.{}}}}}",
            words(200), uniform(1, 9999), uniform(10, 99));
      }
      run.outputs = "{\"documents\":[" + docs + "]}";
    } else if (run_type == "prompt") {
      run.inputs =
          fmt::format("{{\"question\":\"{}\",\"context\":\"{}\"}}", words(120), words(250));
      run.outputs = fmt::format(
          "{{\"messages\":[{{\"role\":\"system\",\"content\":\"{}\"}},{{\"role\":\"user\","
          "\"content\":\"{}\"}}]}}",
          words(150), words(200));
    } else if (run_type == "tool") {
      run.inputs = fmt::format("{{\"input\":\"{}\"}}", words(250));
      run.outputs = fmt::format("{{\"output\":\"{}\"}}", words(600));
    } else if (run_type == "parser") {
      run.inputs = fmt::format("{{\"input\":\"{}\"}}", words(450));
      run.outputs = fmt::format("{{\"output\":\"{}\"}}", words(450));
    } else {  // chain
      run.inputs = fmt::format("{{\"question\":\"{}\",\"chat_history\":[]}}", words(400));
      run.outputs = fmt::format("{{\"answer\":\"{}\"}}", words(500));
    }
    out.push_back(std::move(run));
    return out.size() - 1;
  };
  auto finish = [&](std::size_t index, std::int64_t end_ms) { out[index].end_ms = end_ms; };
  // A leaf that starts at `t` and lasts a type-dependent time; returns its end.
  auto leaf = [&](std::string_view name, std::string_view type, int parent, std::int64_t t,
                  int depth, bool short_runs) {
    const std::size_t i = add(name, type, parent, t, depth);
    std::int64_t d = 2;
    if (type == "llm") d = short_runs ? uniform(200, 1500) : uniform(300, 4000);
    if (type == "tool") d = short_runs ? uniform(20, 300) : uniform(50, 800);
    if (type == "retriever") d = uniform(80, 400);
    if (type == "prompt" || type == "parser") d = uniform(1, 5);
    finish(i, t + d);
    return t + d;
  };

  const std::int64_t t0 = options.start_ms;
  const std::size_t root = add(root_name, "chain", -1, t0, 0);
  const int r = static_cast<int>(root);
  std::int64_t t = t0 + 1;
  int last_llm = -1, agent = -1;
  if (options.size == 10) {
    t = leaf("VectorStoreRetriever", "retriever", r, t, 1, false) + 1;
    t = leaf("ChatPromptTemplate", "prompt", r, t, 1, false) + 1;
    t = leaf("ChatOpenAI", "llm", r, t, 1, false) + 1;
    t = leaf("StrOutputParser", "parser", r, t, 1, false) + 1;
    agent = static_cast<int>(add("AgentExecutor", "chain", r, t, 1));
    t = leaf("web_search", "tool", agent, t + 1, 2, false) + 1;
    t = leaf("ChatOpenAI", "llm", agent, t, 2, false) + 1;
    t = leaf("calculator", "tool", agent, t, 2, false) + 1;
    last_llm = static_cast<int>(out.size());
    t = leaf("ChatOpenAI", "llm", agent, t, 2, false) + 1;
    finish(static_cast<std::size_t>(agent), t);
  } else {
    const int steps = (options.size - 1) / 3;
    for (int s = 0; s < steps; ++s) {
      const int step = static_cast<int>(add("agent_step", "chain", r, t, 1));
      t = leaf("ChatOpenAI", "llm", step, t + 1, 2, true) + 1;
      t = leaf("web_search", "tool", step, t, 2, true) + 1;
      finish(static_cast<std::size_t>(step), t);
      ++t;
    }
    for (int i = 0; i < (options.size - 1) % 3; ++i) {
      last_llm = static_cast<int>(out.size());
      t = leaf("ChatOpenAI", "llm", r, t, 1, true) + 1;
    }
  }
  finish(root, t + 1);

  // Root tags; LangChain's "seq:step:N" on the root's children.
  {
    GenRun& root_run = out[root];
    const int n = static_cast<int>(uniform(0, 2));
    for (int i = 0; i < n; ++i) {
      std::string tag(kRootTags[static_cast<std::size_t>(uniform(0, kRootTags.size() - 1))]);
      if (std::find(root_run.tags.begin(), root_run.tags.end(), tag) == root_run.tags.end()) {
        root_run.tags.push_back(std::move(tag));
      }
    }
    int step = 0;
    for (std::size_t i = first + 1; i < out.size(); ++i) {
      if (out[i].parent_run_id == root_run.id)
        out[i].tags.push_back(fmt::format("seq:step:{}", ++step));
    }
  }

  if (options.failed) {
    const std::string message =
        fmt::format("Error: 429 Too Many Requests: rate limit reached for {} (request req_{})",
                    model.name, uniform(100000, 999999));
    for (int i : {r, agent, last_llm}) {
      if (i < 0) continue;
      GenRun& run = out[static_cast<std::size_t>(i)];
      run.error = message;
      run.outputs.clear();  // a failed call returns nothing
      run.prompt_tokens = run.completion_tokens = run.total_tokens = -1;
    }
  }

  // Derived values: status, latency, metadata rows, full-text.
  for (std::size_t i = first; i < out.size(); ++i) {
    GenRun& run = out[i];
    run.status = run.error.empty() ? "success" : "error";
    run.latency = static_cast<double>(run.endMicros() - run.start_us) / 1e6;
    const boost::json::value extra = boost::json::parse(run.extra);
    for (const auto& item : extra.at("metadata").get_object()) {
      std::string value = item.value().is_string() ? std::string(item.value().get_string())
                                                   : boost::json::serialize(item.value());
      run.metadata.emplace_back(std::string(item.key()), std::move(value));
    }
    run.text = run.name + "\n";
    if (!run.error.empty()) run.text += run.error + "\n";
    collectStrings(boost::json::parse(run.inputs), run.text);
    if (!run.outputs.empty()) collectStrings(boost::json::parse(run.outputs), run.text);
  }
}

void refreshIds(std::span<GenRun> runs, IdGenerator& ids) {
  std::unordered_map<std::string, std::size_t> index;  // old id -> position
  index.reserve(runs.size() * 2);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    GenRun& run = runs[i];
    index.emplace(run.id, i);
    run.id = ids.next();
    const std::string segment = dottedSegment(run.start_iso, run.id);
    if (run.is_root) {
      run.trace_id = run.id;
      run.dotted_order = segment;
    } else {
      const GenRun& parent = runs[index.at(run.parent_run_id)];
      run.parent_run_id = parent.id;
      run.trace_id = parent.trace_id;
      run.dotted_order = parent.dotted_order + "." + segment;
    }
  }
}

std::string postPartJson(const GenRun& run) {
  std::string out;
  out.reserve(512);
  out += "{\"id\":\"" + run.id + "\",\"name\":";
  core::appendJsonString(out, run.name);
  out += ",\"start_time\":\"" + run.start_iso + "\",\"end_time\":" + std::to_string(run.end_ms);
  out += ",\"run_type\":\"" + run.run_type + "\",\"session_name\":";
  core::appendJsonString(out, run.session_name);
  out += ",\"child_runs\":[]";
  if (!run.parent_run_id.empty()) out += ",\"parent_run_id\":\"" + run.parent_run_id + "\"";
  out += ",\"trace_id\":\"" + run.trace_id + "\",\"dotted_order\":\"" + run.dotted_order + "\"";
  out += ",\"tags\":";
  appendTags(out, run.tags);
  out += "}";
  return out;
}

std::string runCreateJson(const GenRun& run) {
  std::string out;
  out.reserve(3072);
  out += "{\"id\":\"" + run.id + "\",\"name\":";
  core::appendJsonString(out, run.name);
  out += ",\"start_time\":\"" + run.start_iso + "\",\"end_time\":" + std::to_string(run.end_ms);
  out += ",\"run_type\":\"" + run.run_type + "\",\"extra\":" + run.extra;
  out += ",\"serialized\":" + run.serialized;
  if (!run.error.empty()) {
    out += ",\"error\":";
    core::appendJsonString(out, run.error);
  }
  out += ",\"inputs\":" + run.inputs;
  if (!run.outputs.empty()) out += ",\"outputs\":" + run.outputs;
  out += ",\"session_name\":";
  core::appendJsonString(out, run.session_name);
  out += ",\"child_runs\":[]";
  if (!run.parent_run_id.empty()) out += ",\"parent_run_id\":\"" + run.parent_run_id + "\"";
  out += ",\"trace_id\":\"" + run.trace_id + "\",\"dotted_order\":\"" + run.dotted_order + "\"";
  out += ",\"tags\":";
  appendTags(out, run.tags);
  out += "}";
  return out;
}

std::string multipartBody(std::span<const GenRun> runs, std::string_view boundary) {
  std::string body;
  body.reserve(runs.size() * 3300);
  auto part = [&](std::string_view name, std::string_view payload) {
    body += "--";
    body += boundary;
    body += "\r\nContent-Disposition: form-data; name=\"";
    body += name;
    body += "\"\r\nContent-Type: application/json; length=";
    body += std::to_string(payload.size());
    body += "\r\n\r\n";
    body += payload;
    body += "\r\n";
  };
  for (const GenRun& run : runs) {
    const std::string prefix = "post." + run.id;
    part(prefix, postPartJson(run));
    part(prefix + ".inputs", run.inputs);
    if (!run.outputs.empty()) part(prefix + ".outputs", run.outputs);
    part(prefix + ".extra", run.extra);
    if (!run.error.empty()) part(prefix + ".error", core::jsonString(run.error));
    part(prefix + ".serialized", run.serialized);
  }
  body += "--";
  body += boundary;
  body += "--\r\n";
  return body;
}

std::string batchBody(std::span<const GenRun> runs) {
  std::string body = "{\"post\":[";
  body.reserve(runs.size() * 3000);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) body.push_back(',');
    body += runCreateJson(runs[i]);
  }
  body += "]}";
  return body;
}

std::string langsmithBoundary(std::mt19937_64& rng) {
  static constexpr char kBase36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out = "----LangSmithFormBoundary";
  std::uniform_int_distribution<int> pick(0, 35);
  for (int i = 0; i < 11; ++i) out.push_back(kBase36[pick(rng)]);
  return out;
}

}  // namespace pharos::bench
