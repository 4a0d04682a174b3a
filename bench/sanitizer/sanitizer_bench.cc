// Times Pharos's output sanitizer on a file (bench/sanitizer/run.sh makes a 100 MB corpus):
// whole-text sanitize() and the stream fed in 64-byte chunks (an LLM stream's shape), with the
// seed's policy plus every detector. Prints MB/s (best of N) and the redaction counts.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "policy/output_sanitizer.h"

using namespace pharos::policy;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: sanitizer_bench FILE [REPEAT=3]\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 1;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const int repeat = argc > 2 ? std::stoi(argv[2]) : 3;

  OutputPolicy policy;
  policy.forbidden_code.push_back({"python", "import os"});
  auto compiled = OutputSanitizer::compile(policy);
  if (!compiled) {
    std::cerr << compiled.error().message << "\n";
    return 1;
  }
  const OutputSanitizer& sanitizer = *compiled;
  const double mb = static_cast<double>(text.size()) / 1e6;

  auto time = [&](auto&& run) {
    double best = 1e30;
    for (int i = 0; i < repeat; ++i) {
      const auto start = std::chrono::steady_clock::now();
      run();
      best = std::min(
          best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
  };

  Redactions counts;
  std::size_t out_size = 0;
  const double whole = time([&] {
    counts = {};
    out_size = sanitizer.sanitize(text, &counts).size();
  });
  std::printf(
      "pharos_whole %.1f MB/s (%.0f MB in %.3f s; ssn=%llu card=%llu email=%llu phone=%llu "
      "api_key=%llu code=%llu; out %zu bytes)\n",
      mb / whole, mb, whole, (unsigned long long)counts.count(Detector::kSsn),
      (unsigned long long)counts.count(Detector::kCard),
      (unsigned long long)counts.count(Detector::kEmail),
      (unsigned long long)counts.count(Detector::kPhone),
      (unsigned long long)counts.count(Detector::kApiKey), (unsigned long long)counts.code_blocks,
      out_size);

  std::size_t streamed_size = 0;
  const double streamed = time([&] {
    auto stream = sanitizer.stream();
    streamed_size = 0;
    for (std::size_t at = 0; at < text.size(); at += 64) {
      streamed_size += stream.feed(std::string_view(text).substr(at, 64)).size();
    }
    streamed_size += stream.finish().size();
  });
  std::printf("pharos_stream64 %.1f MB/s (%.3f s; same output: %s)\n", mb / streamed, streamed,
              streamed_size == out_size ? "yes" : "NO");
  return streamed_size == out_size ? 0 : 1;
}
