// What the server decides from a request's head alone, before it reads (or sends 100 Continue
// for) the body: malformed framing, an unusable target, the route. Authentication also happens
// on the head (see Server), so a caller without a valid key never gets a body buffered.
// Kept apart from the server so that the fuzz target runs exactly this code on hostile input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"
#include "http/router.h"

namespace pharos::http {

struct HeadDecision {
  // Set when the request must be refused without calling a handler (400, 501).
  std::optional<Response> refusal;
  const Route* route = nullptr;  // null: no route (see unroutable()) or refused
  std::vector<std::pair<std::string, std::string>> params;  // percent-decoded
  std::vector<Verb> allowed;                                // for 405
  std::string path;                                         // decoded, for messages
  std::string route_label = "invalid";  // the metrics label: a pattern, or a fixed word
  bool needs_identity = true;           // false only for public routes
  // The connection cannot be trusted to carry another request (bad framing): close after the
  // refusal.
  bool must_close = false;
};

HeadDecision examineHead(const RequestHead& head, bool chunked, const Router& router);

// The 404 or 405 (with Allow) for a head that matched no route.
Response unroutable(const HeadDecision& decision, std::string_view method);

// A bounded metrics label for a method: known verbs by name, anything else "other".
std::string_view methodLabel(const RequestHead& head);

}  // namespace pharos::http
