#pragma once
// The HTTP surface of API.md §1: endpoints, auth, the error body for every failure.
namespace httplib {
class Server;
}

namespace dsv32::server {

struct ServerState;

void install_routes(httplib::Server& http, ServerState& state);

}  // namespace dsv32::server
