#include "http/sse.h"

namespace pharos::http {

std::string formatSseEvent(std::string_view data, std::string_view event, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 32);
  // A line break in event or id would start a field of the caller's choosing; cut it there.
  event = event.substr(0, event.find_first_of("\r\n"));
  id = id.substr(0, id.find_first_of("\r\n"));
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  if (!id.empty()) {
    out += "id: ";
    out += id;
    out += '\n';
  }
  // Each line of the payload is its own data: field; CR, LF and CRLF all end a line.
  std::size_t start = 0;
  while (true) {
    const std::size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, end - start);
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
  }
  out += '\n';
  return out;
}

}  // namespace pharos::http
