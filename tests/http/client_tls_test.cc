// HTTPS in http::ClientExchange: certificate chain and host name verification against a real TLS
// server on 127.0.0.1 whose certificate is made here (a self-signed one for "localhost" /
// 127.0.0.1, and one for another name): untrusted, trusted through ca_file, wrong host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "core/ids.h"
#include "http/client.h"

namespace pharos::http {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using tcp = asio::ip::tcp;

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

std::string pem(auto write) {
  BIO* bio = BIO_new(BIO_s_mem());
  write(bio);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return out;
}

// A self-signed certificate (EC P-256) whose subjectAltName is `san` ("DNS:localhost,IP:...").
KeyAndCert selfSigned(const std::string& common_name, const std::string& san) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair{NID_subject_alt_name, san},
        std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());
  KeyAndCert out{
      pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); }),
      pem([&](BIO* b) { PEM_write_bio_X509(b, cert); })};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// A TLS server answering every request on its connections with a small JSON body.
class TlsServer {
 public:
  explicit TlsServer(const KeyAndCert& identity)
      : acceptor_(io_, {asio::ip::address_v4::loopback(), 0}) {
    ssl_.use_certificate_chain(asio::buffer(identity.cert_pem));
    ssl_.use_private_key(asio::buffer(identity.key_pem), asio::ssl::context::pem);
    asio::co_spawn(io_, acceptLoop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsServer() {
    io_.stop();
    thread_.join();
  }
  std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }

 private:
  asio::awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> serve(tcp::socket socket) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), ssl_);
    auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                          asio::as_tuple(asio::use_awaitable));
    if (handshake_ec) co_return;
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer),
                                                     asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      request.append(buffer, n);
    }
    const std::string response =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        "12\r\n\r\n{\"tls\":true}";
    co_await asio::async_write(stream, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
  }

  asio::io_context io_;
  asio::ssl::context ssl_{asio::ssl::context::tls_server};
  tcp::acceptor acceptor_;
  std::thread thread_;
};

class ClientTlsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove(ca_file_, ignored);
  }

  std::string writeCa(const KeyAndCert& identity) {
    ca_file_ = std::filesystem::temp_directory_path() /
               ("pharos-tls-test-" + core::randomAlphanumeric(12) + ".pem");
    std::ofstream(ca_file_) << identity.cert_pem;
    return ca_file_.string();
  }

  // The body, or "error: <message>".
  static std::string get(ClientPool& pool, const Origin& origin) {
    asio::io_context io;
    auto call = [&]() -> asio::awaitable<std::string> {
      ClientExchange exchange(pool);
      const ClientRequest request{Verb::get, "/v1/models", {}, ""};
      auto head = co_await exchange.begin(origin, request, Clock::now() + 5s);
      if (!head) co_return "error: " + head.error().message;
      auto body = co_await exchange.readAll(Clock::now() + 5s, 1024);
      co_return body ? *body : "error: " + body.error().message;
    };
    auto future = asio::co_spawn(io, call(), asio::use_future);
    io.run();
    pool.clear();  // idle connections belong to `io`
    return future.get();
  }

  static Origin origin(const std::string& host, const std::string& port) {
    return Origin{.tls = true, .host = host, .port = port, .base_path = "/v1"};
  }

  std::filesystem::path ca_file_;
};

TEST_F(ClientTlsTest, AnUntrustedCertificateIsRefused) {
  TlsServer server(selfSigned("localhost", "DNS:localhost,IP:127.0.0.1"));
  ClientPool pool;  // the system's trust store only
  const std::string result = get(pool, origin("127.0.0.1", server.port()));
  EXPECT_THAT(result, HasSubstr("error:"));
  EXPECT_THAT(result, HasSubstr("TLS handshake"));
  EXPECT_THAT(result, HasSubstr("certificate verify failed"));
}

TEST_F(ClientTlsTest, ACertificateTrustedThroughCaFileIsAccepted) {
  const KeyAndCert identity = selfSigned("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsServer server(identity);
  ClientPool pool({.tls = {.verify = true, .ca_file = writeCa(identity)}});
  EXPECT_EQ(get(pool, origin("127.0.0.1", server.port())), R"({"tls":true})");
  EXPECT_EQ(get(pool, origin("localhost", server.port())), R"({"tls":true})");
}

TEST_F(ClientTlsTest, ATrustedCertificateForAnotherHostIsRefused) {
  const KeyAndCert identity = selfSigned("api.example.com", "DNS:api.example.com");
  TlsServer server(identity);
  ClientPool pool({.tls = {.verify = true, .ca_file = writeCa(identity)}});
  const std::string result = get(pool, origin("127.0.0.1", server.port()));
  EXPECT_THAT(result, HasSubstr("certificate verify failed"));
}

TEST_F(ClientTlsTest, VerificationOffAcceptsAnything) {
  TlsServer server(selfSigned("api.example.com", "DNS:api.example.com"));
  ClientPool pool({.tls = {.verify = false}});
  EXPECT_EQ(get(pool, origin("127.0.0.1", server.port())), R"({"tls":true})");
}

TEST_F(ClientTlsTest, AMissingCaFileFailsAtConstruction) {
  EXPECT_THROW(ClientPool({.tls = {.verify = true, .ca_file = "/nonexistent/ca.pem"}}),
               std::runtime_error);
}

}  // namespace
}  // namespace pharos::http
