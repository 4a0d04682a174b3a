#include "tracing/ingest/otlp_logged_export.h"

namespace pharos::tracing::otlp {

namespace {

// Layout: version (1 byte), encoding (1 byte), then workspace and project each as a 4-byte
// little-endian length and the bytes, then the body to the end.
constexpr char kVersion = 1;

void putString(std::string& out, std::string_view text) {
  const auto size = static_cast<std::uint32_t>(text.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  out.append(text);
}

std::optional<std::string> takeString(std::string_view& in) {
  if (in.size() < 4) return std::nullopt;
  std::uint32_t size = 0;
  for (int i = 0; i < 4; ++i) {
    size |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[static_cast<std::size_t>(i)]))
            << (8 * i);
  }
  in.remove_prefix(4);
  if (in.size() < size) return std::nullopt;
  std::string out(in.substr(0, size));
  in.remove_prefix(size);
  return out;
}

}  // namespace

std::string encodeLoggedExport(std::string_view workspace_id, std::string_view project,
                               Encoding encoding, std::string_view body) {
  std::string out;
  out.reserve(2 + 8 + workspace_id.size() + project.size() + body.size());
  out.push_back(kVersion);
  out.push_back(static_cast<char>(encoding));
  putString(out, workspace_id);
  putString(out, project);
  out.append(body);
  return out;
}

std::optional<LoggedExport> decodeLoggedExport(std::string_view bytes) {
  if (bytes.size() < 2 || bytes[0] != kVersion) return std::nullopt;
  const auto encoding = static_cast<Encoding>(bytes[1]);
  if (encoding != Encoding::kProtobuf && encoding != Encoding::kJson) return std::nullopt;
  bytes.remove_prefix(2);
  auto workspace_id = takeString(bytes);
  if (!workspace_id) return std::nullopt;
  auto project = takeString(bytes);
  if (!project) return std::nullopt;
  return LoggedExport{std::move(*workspace_id), std::move(*project), encoding, std::string(bytes)};
}

}  // namespace pharos::tracing::otlp
