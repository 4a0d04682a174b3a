// Fuzzes the gateway's reading of an upstream's event stream (gateway/stream_assembler): bytes an
// upstream sends are untrusted. The first byte picks a split point; the rest is the stream.
// Invariants beyond "no crash, no UB": fed whole, split in two at any point, or byte by byte, the
// assembler sees the same events and assembles the same message.
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/stream_assembler.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

struct Seen {
  std::string assembled;
  std::size_t events;
  bool done, finished, error;
};

Seen seen(const pharos::gateway::StreamAssembler& a) {
  return {boost::json::serialize(a.assembled()), a.events(), a.sawDone(), a.sawFinish(),
          a.sawError()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = stream.empty() ? 0 : data[0] % (stream.size() + 1);

  pharos::gateway::StreamAssembler whole, halves, bytes;
  whole.feed(stream);
  halves.feed(stream.substr(0, split));
  halves.feed(stream.substr(split));
  for (char c : stream) bytes.feed(std::string_view(&c, 1));

  const Seen a = seen(whole), b = seen(halves), c = seen(bytes);
  for (const Seen* other : {&b, &c}) {
    check(other->assembled == a.assembled);
    check(other->events == a.events);
    check(other->done == a.done && other->finished == a.finished && other->error == a.error);
  }
  return 0;
}
