// An accepted OTLP export as it sits in the span log between acknowledgement and materialization:
// the caller's workspace, the x-pharos-project header, and the body exactly as received (decoded
// again, by the same rules, when it is turned into runs).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pharos::tracing::otlp {

enum class Encoding : std::uint8_t { kProtobuf = 1, kJson = 2 };

struct LoggedExport {
  std::string workspace_id;
  std::string project;
  Encoding encoding = Encoding::kProtobuf;
  std::string body;
};

std::string encodeLoggedExport(std::string_view workspace_id, std::string_view project,
                               Encoding encoding, std::string_view body);
// nullopt when the bytes are not a record this version wrote.
std::optional<LoggedExport> decodeLoggedExport(std::string_view bytes);

}  // namespace pharos::tracing::otlp
