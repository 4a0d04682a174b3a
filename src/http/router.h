// Maps (method, path) to a handler. Patterns are literal segments and `{name}` parameters:
// "/api/v1/runs/{run_id}". Literal segments win over parameters; one trailing slash is ignored.
// An unknown path answers 404; a known path with another method answers 405 with `Allow`.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"

namespace pharos::http {

struct RouteOptions {
  // Public routes (health, readiness, metrics) skip authentication.
  bool is_public = false;
  // The server watches the connection while the handler and its stream run, and tells the
  // request's DisconnectWatch when the client goes away (so upstream work can be cancelled).
  bool watch_disconnect = false;
};

struct Route {
  Verb method;
  std::string pattern;  // also the metrics label, so cardinality stays bounded
  Handler handler;
  RouteOptions options;
};

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Throws std::invalid_argument on a malformed pattern or a duplicate (a start-up bug).
  void add(Verb method, std::string_view pattern, Handler handler, RouteOptions options = {});

  struct Match {
    const Route* route = nullptr;  // null: no route for this method
    std::vector<std::pair<std::string, std::string>> params;
    std::vector<Verb> allowed;  // when the path exists with other methods (405)
  };
  // HEAD falls back to the GET route.
  Match match(Verb method, std::string_view path) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
};

}  // namespace pharos::http
