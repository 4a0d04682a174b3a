// Fuzzes the JSONL dataset reader (eval/files): readJsonl on arbitrary bytes, with the first byte
// picking a key mapping. Invariants beyond "no crash, no UB" (dataset_file_check.h): every row
// and error line lies within the text, rows are in file order, and when nothing was wrong the
// rows come back unchanged through writeCsv -> readCsv and writeJsonl -> readJsonl.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataset_file_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pharos::eval;
  if (size == 0) return 0;
  const KeyMapping mapping = fuzz::mappingFor(data[0]);
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const ReadResult result = readJsonl(text, mapping);
  fuzz::checkLines(text, result);
  fuzz::checkRoundTrips(result);
  return 0;
}
