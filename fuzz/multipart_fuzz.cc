// Fuzzes the incremental multipart/form-data parser (http::MultipartParser). The first input byte
// picks the boundary's length (a prefix of a fixed boundary, so seeds stay readable) and the
// second a split point; the rest is the body. Invariant: feeding the body whole, split once at a
// position derived from the input, and byte by byte (short bodies) gives the same parts and the
// same result. Small limits make the limit paths reachable.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/multipart.h"

namespace {

using namespace pharos;

void check(bool condition) {
  if (!condition) std::abort();
}

class RecordingSink : public http::MultipartSink {
 public:
  core::Status onPartBegin(const http::PartHeaders& headers) override {
    check(!in_part_);
    check(!headers.name.empty());
    in_part_ = true;
    out += "B" + headers.name + "|" + headers.filename.value_or("-") + "|" + headers.content_type +
           "|" + std::to_string(headers.headers.size()) + "\n";
    return {};
  }
  core::Status onPartData(std::string_view data) override {
    check(in_part_);
    check(!data.empty());
    out.append(data);
    return {};
  }
  core::Status onPartEnd() override {
    check(in_part_);
    in_part_ = false;
    out += "\nE\n";
    return {};
  }

  std::string out;

 private:
  bool in_part_ = false;
};

std::string run(std::string_view boundary, std::string_view body,
                const std::vector<std::size_t>& cuts) {
  http::MultipartLimits limits;
  limits.max_header_bytes = 256;
  limits.max_parts = 16;
  limits.max_part_bytes = 4096;
  RecordingSink sink;
  http::MultipartParser parser(std::string(boundary), sink, limits);
  std::size_t from = 0;
  std::vector<std::size_t> all = cuts;
  all.push_back(body.size());
  for (std::size_t to : all) {
    core::Status s = parser.feed(body.substr(from, to - from));
    if (!s) {
      check(!s.error().message.empty());
      return sink.out + "#error " + s.error().message;
    }
    from = to;
  }
  core::Status s = parser.finish();
  if (!s) return sink.out + "#error " + s.error().message;
  check(parser.complete());
  return sink.out + "#ok";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  constexpr std::string_view kBoundary = "----LangSmithFormBoundary0123456789";
  std::string_view boundary = kBoundary.substr(0, 1 + data[0] % kBoundary.size());
  std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::string whole = run(boundary, body, {});
  const std::size_t cut = body.empty() ? 0 : (data[1] * 257u + size) % (body.size() + 1);
  // A streaming parser delivers data as it goes, so before an error (a part over its limit,
  // say) a split feed may have passed on more of the part than a whole one: on errors only the
  // error itself must agree.
  const auto outcome = [](const std::string& events) {
    const std::size_t error = events.rfind("#error ");
    return error == std::string::npos ? events : events.substr(error);
  };
  const auto same = [&](const std::string& split, std::string_view how) {
    if (outcome(split) != outcome(whole) && std::getenv("PHAROS_FUZZ_TRACE") != nullptr) {
      std::fprintf(stderr, "whole:\n%s\n---- %.*s:\n%s\n", whole.c_str(),
                   static_cast<int>(how.size()), how.data(), split.c_str());
    }
    check(outcome(split) == outcome(whole));
  };
  same(run(boundary, body, {cut}), "split once");
  if (body.size() <= 512) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
    same(run(boundary, body, every), "byte by byte");
  }
  return 0;
}
