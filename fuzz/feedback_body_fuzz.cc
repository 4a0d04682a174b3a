// Fuzzes the feedback bodies (tracing/api/feedback_routes): POST /feedback as the LangSmith
// clients send it, and PATCH /feedback/{id}. Invariants beyond "no crash, no UB": a body is
// either a kInvalidArgument naming the member at fault, or feedback with an id (a UUID), a
// key of 1-256 characters, a run or a session, and a finite score when it has one; its JSON
// serializes, and parsing that JSON back gives the same feedback.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/ids.h"
#include "tracing/api/feedback_routes.h"

namespace {

namespace json = boost::json;

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  boost::system::error_code ec;
  const json::value body = json::parse(text, ec);
  if (ec || !body.is_object()) return 0;

  if ((data[0] & 1) != 0) {
    auto update = pharos::tracing::parseFeedbackUpdate(body.get_object());
    if (!update.ok()) {
      check(update.error().code == pharos::core::ErrorCode::kInvalidArgument);
      check(!update.error().message.empty());
    } else if (update->score) {
      check(std::isfinite(*update->score));
    }
    return 0;
  }

  auto created = pharos::tracing::parseFeedbackCreate(body.get_object());
  if (!created.ok()) {
    check(created.error().code == pharos::core::ErrorCode::kInvalidArgument);
    check(!created.error().message.empty());
    return 0;
  }
  check(pharos::core::isUuid(created->id));
  check(!created->key.empty() && created->key.size() <= 4 * 256);
  check(created->run_id.has_value() || created->session_id.has_value());
  if (created->score) check(std::isfinite(*created->score));
  const json::object out = pharos::tracing::feedbackJson(*created);
  const json::value reparsed = json::parse(json::serialize(out), ec);
  check(!ec);
  auto again = pharos::tracing::parseFeedbackCreate(reparsed.get_object());
  check(again.ok());
  check(again->id == created->id && again->key == created->key);
  check(again->score == created->score);
  check(again->value == created->value && again->feedback_source == created->feedback_source);
  return 0;
}
