// Pharos's tokenizer throughput (tokens/s, bytes/s) on the benchmark corpus: encode() of each
// paragraph, one thread. The corpus path comes from $TOKENIZER_CORPUS (bench/tokenizer/run.sh
// generates it with make_corpus.py).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tokens/tokenizer.h"

namespace {

using pharos::tokens::Encoding;
using pharos::tokens::Tokenizer;

const std::vector<std::string>& paragraphs() {
  static const std::vector<std::string> out = [] {
    const char* path = std::getenv("TOKENIZER_CORPUS");
    if (path == nullptr) {
      std::cerr << "set TOKENIZER_CORPUS to a corpus file (bench/tokenizer/run.sh makes one)\n";
      std::exit(2);
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::cerr << "cannot read " << path << "\n";
      std::exit(2);
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < text.size();) {
      std::size_t end = text.find("\n\n", i);
      if (end == std::string::npos) end = text.size();
      parts.push_back(text.substr(i, end - i));
      i = end + 2;
    }
    return parts;
  }();
  return out;
}

template <bool kCountOnly>
void encodeCorpus(benchmark::State& state, Encoding encoding) {
  const Tokenizer& tokenizer = Tokenizer::get(encoding);
  std::size_t bytes = 0;
  std::size_t tokens = 0;
  for (auto _ : state) {
    for (const auto& p : paragraphs()) {
      if constexpr (kCountOnly) {
        tokens += tokenizer.count(p);
      } else {
        auto ids = tokenizer.encode(p);
        tokens += ids.size();
        benchmark::DoNotOptimize(ids.data());
      }
      bytes += p.size();
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["tokens_per_second"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}

void Encode(benchmark::State& state, Encoding encoding) {
  encodeCorpus<false>(state, encoding);
}
void Count(benchmark::State& state, Encoding encoding) {
  encodeCorpus<true>(state, encoding);
}

BENCHMARK_CAPTURE(Encode, cl100k_base, Encoding::kCl100kBase)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK_CAPTURE(Encode, o200k_base, Encoding::kO200kBase)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK_CAPTURE(Count, cl100k_base, Encoding::kCl100kBase)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace
