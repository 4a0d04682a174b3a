#include "tracing/store/sql_functions.h"

#include <boost/json/parse.hpp>
#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>

#include "tracing/store/stored_json.h"

namespace pharos::tracing {

namespace {

// Deterministic lets SQLite factor calls out of loops; innocuous lets them run where untrusted
// schema content could call them (they read nothing but their argument).
constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;

std::string_view textOf(sqlite3_value* value) {
  const auto* data = reinterpret_cast<const char*>(sqlite3_value_text(value));
  return {data != nullptr ? data : "", static_cast<std::size_t>(sqlite3_value_bytes(value))};
}

std::string_view blobOf(sqlite3_value* value) {
  const auto* data = static_cast<const char*>(sqlite3_value_blob(value));
  return {data != nullptr ? data : "", static_cast<std::size_t>(sqlite3_value_bytes(value))};
}

// No exception may unwind through SQLite's C frames: every callback catches everything.
void runJson(sqlite3_context* context, int, sqlite3_value** argv) {
  try {
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
      sqlite3_result_value(context, argv[0]);
      return;
    }
    auto text = decompressStoredJson(blobOf(argv[0]));
    if (!text) {
      const std::string message = "run_json: " + text.error().message;
      sqlite3_result_error(context, message.c_str(), static_cast<int>(message.size()));
      return;
    }
    sqlite3_result_text64(context, text->data(), text->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(context);
  } catch (const std::exception& e) {
    sqlite3_result_error(context, e.what(), -1);
  }
}

void runJsonKey(sqlite3_context* context, int, sqlite3_value** argv) {
  try {
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
      sqlite3_result_null(context);
      return;
    }
    const std::string key = flattenJsonTreeKey(textOf(argv[0]));
    sqlite3_result_text64(context, key.data(), key.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(context);
  } catch (const std::exception& e) {
    sqlite3_result_error(context, e.what(), -1);
  }
}

// The signature sqlite3_auto_extension really calls (it is declared as taking void (*)(void)).
int autoExtensionEntry(sqlite3* db, char** error_message, const sqlite3_api_routines*) {
  if (auto status = registerRunSqlFunctions(db); !status) {
    // SQLite frees the message with sqlite3_free.
    *error_message = sqlite3_mprintf("%s", status.error().message.c_str());
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

// The body of a quoted json_tree key segment is the key's JSON string text (escapes and all), so
// decoding it as a JSON string gives the key itself; an undecodable one is kept as written.
std::string decodeQuotedKey(std::string_view quoted) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(quoted, ec);
  if (!ec && value.is_string()) return std::string(value.get_string());
  std::string_view body = quoted.substr(1);
  if (!body.empty() && body.back() == '"') body.remove_suffix(1);
  return std::string(body);
}

}  // namespace

std::string flattenJsonTreeKey(std::string_view fullkey) {
  std::string out;
  bool first = true;
  auto append = [&](std::string_view key) {
    if (!first) out += '.';
    out += key;
    first = false;
  };
  std::size_t i = 0;
  if (i < fullkey.size() && fullkey[i] == '$') ++i;
  while (i < fullkey.size()) {
    const char c = fullkey[i];
    if (c == '[') {
      // An array index: the filter language's keys do not carry them.
      const std::size_t close = fullkey.find(']', i);
      i = close == std::string_view::npos ? fullkey.size() : close + 1;
    } else if (c == '.' && i + 1 < fullkey.size() && fullkey[i + 1] == '"') {
      std::size_t j = i + 2;
      while (j < fullkey.size() && fullkey[j] != '"') j += fullkey[j] == '\\' ? 2 : 1;
      const std::size_t end = j < fullkey.size() ? j + 1 : fullkey.size();
      append(decodeQuotedKey(fullkey.substr(i + 1, end - (i + 1))));
      i = end;
    } else {
      // A bare key runs to the next separator; text that does not start with one (not something
      // json_tree produces) is kept as a key rather than dropped.
      const std::size_t start = c == '.' ? i + 1 : i;
      std::size_t j = start;
      while (j < fullkey.size() && fullkey[j] != '.' && fullkey[j] != '[') ++j;
      append(fullkey.substr(start, j - start));
      i = j;
    }
  }
  return out;
}

core::Status registerRunSqlFunctions(sqlite3* db) {
  struct Function {
    const char* name;
    void (*call)(sqlite3_context*, int, sqlite3_value**);
  };
  for (const Function& f : {Function{"run_json", runJson}, Function{"run_json_key", runJsonKey}}) {
    const int code = sqlite3_create_function_v2(db, f.name, 1, kFlags, nullptr, f.call, nullptr,
                                                nullptr, nullptr);
    if (code != SQLITE_OK) {
      return core::Error::internal(std::string("registering SQL function ") + f.name + ": " +
                                   sqlite3_errstr(code));
    }
  }
  return {};
}

void registerRunSqlFunctionsForEveryConnection() {
  static std::once_flag once;
  std::call_once(once, [] {
    // void (*)(void) is the declared type; casting to it is the documented way to pass the entry.
    const int code = sqlite3_auto_extension(reinterpret_cast<void (*)()>(&autoExtensionEntry));
    // Only SQLITE_NOMEM, at start-up; a throw leaves the flag unset, so a later call retries.
    if (code != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite3_auto_extension: ") + sqlite3_errstr(code));
    }
  });
}

}  // namespace pharos::tracing
