// HTTP/1.1 framing as a hostile or sloppy client exercises it: keep-alive, malformed requests,
// size limits and clients that vanish half-way. After every bad input the server must still
// answer a fresh client.
#include <gtest/gtest.h>
#include <zlib.h>

#include <thread>

#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"

namespace pharos::testing {
namespace {

class ProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }
  std::uint16_t port() const { return server_.port(); }

  // Small limits so the oversized cases are cheap to send.
  PharosServer server_{
      ServeOptions{.sets = {"server.max_header_bytes=4KiB", "server.max_body_bytes=64KiB",
                            "server.max_inflated_body_bytes=256KiB"}}};
};

// `data` compressed with the gzip wrapper (what Content-Encoding: gzip means).
std::string gzip(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Sends `bytes`, expects a `status` JSON error of `type`, then the server closing the connection.
void expectRejectedAndClosed(std::uint16_t port, std::string_view bytes, int status,
                             std::string_view type) {
  HttpConnection connection(port);
  ASSERT_TRUE(connection.send(bytes)) << connection.lastError();
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError() << "; received: " << connection.received();
  EXPECT_TRUE(isJsonError(*response, status, type));
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(response->header("x-request-id"));
  EXPECT_TRUE(connection.waitForClose()) << "the server kept the connection open after " << status;
  EXPECT_TRUE(answersHealthz(port));
}

TEST_F(ProtocolTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpConnection connection(port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(connection.send(buildRequest("GET", i % 2 == 0 ? "/healthz" : "/nope")));
    const auto response = connection.readResponse();
    ASSERT_TRUE(response) << "request " << i << ": " << connection.lastError();
    EXPECT_EQ(response->status, i % 2 == 0 ? 200 : 404);
    EXPECT_NE(response->header("connection"), "close");
  }
  EXPECT_FALSE(connection.closedByPeer());
}

TEST_F(ProtocolTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(buildRequest("GET", "/healthz", {{"X-Request-Id", "p1"}}) +
                              buildRequest("GET", "/missing", {{"X-Request-Id", "p2"}}) +
                              buildRequest("GET", "/healthz", {{"X-Request-Id", "p3"}})));
  const char* ids[] = {"p1", "p2", "p3"};
  const int statuses[] = {200, 404, 200};
  for (int i = 0; i < 3; ++i) {
    const auto response = connection.readResponse();
    ASSERT_TRUE(response) << connection.lastError();
    EXPECT_EQ(response->status, statuses[i]);
    EXPECT_EQ(response->header("x-request-id"), ids[i]);
  }
}

TEST_F(ProtocolTest, ConnectionCloseIsHonoured) {
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(buildRequest("GET", "/healthz", {{"Connection", "close"}})));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(connection.waitForClose());
  EXPECT_TRUE(connection.received().empty());
}

TEST_F(ProtocolTest, Http10WithoutKeepAliveIsClosed) {
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send("GET /healthz HTTP/1.0\r\n\r\n"));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(connection.waitForClose());
}

TEST_F(ProtocolTest, GarbageRequestLineIs400AndClosed) {
  expectRejectedAndClosed(port(), "THIS IS NOT HTTP\r\n\r\n", 400, "bad_request");
}

TEST_F(ProtocolTest, BinaryGarbageIs400AndClosed) {
  expectRejectedAndClosed(
      port(), std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n", 400,
      "bad_request");
}

TEST_F(ProtocolTest, BadHeaderLineIs400AndClosed) {
  expectRejectedAndClosed(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400,
                          "bad_request");
}

TEST_F(ProtocolTest, InvalidChunkSizeIs400AndClosed) {
  expectRejectedAndClosed(port(),
                          "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "zz\r\nhello\r\n0\r\n\r\n",
                          400, "bad_request");
}

TEST_F(ProtocolTest, ConflictingContentLengthsAre400) {
  expectRejectedAndClosed(port(),
                          "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                          "Content-Length: 5\r\n\r\nabcde",
                          400, "bad_request");
}

TEST_F(ProtocolTest, OversizedHeaderIs431) {
  const std::string request =
      buildRequest("GET", "/healthz", {{"X-Padding", std::string(8 * 1024, 'p')}});
  expectRejectedAndClosed(port(), request, 431, "headers_too_large");
}

TEST_F(ProtocolTest, HeaderJustUnderTheLimitIsAccepted) {
  const HttpResponse response = get(port(), "/healthz", {{"X-Padding", std::string(3000, 'p')}});
  EXPECT_EQ(response.status, 200);
}

TEST_F(ProtocolTest, OversizedContentLengthIs413WithoutReadingTheBody) {
  // Only the head is sent: a 413 arriving now proves the server decided from Content-Length
  // alone instead of reading (or waiting for) a 1 MiB body.
  HttpConnection connection(port());
  ASSERT_TRUE(
      connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_TRUE(isJsonError(*response, 413, "body_too_large"));
  EXPECT_NE(errorMessage(*response).find("1048576"), std::string::npos) << errorMessage(*response);
  EXPECT_TRUE(connection.waitForClose());
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(ProtocolTest, BodyUnderTheLimitIsAccepted) {
  const HttpResponse response = fetch(port(), "GET", "/healthz", {}, std::string(60 * 1024, 'b'));
  EXPECT_EQ(response.status, 200);
}

TEST_F(ProtocolTest, OversizedChunkedBodyIs413) {
  // 16 chunks of 8 KiB = 128 KiB against a 64 KiB limit; no length up front, so the server
  // has to count as it reads.
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 16; ++i) request += "2000\r\n" + std::string(8192, 'c') + "\r\n";
  request += "0\r\n\r\n";
  HttpConnection connection(port());
  // The server may stop reading (and close) before all of it is sent; that is its right.
  connection.send(request);
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_TRUE(isJsonError(*response, 413, "body_too_large"));
  EXPECT_TRUE(connection.waitForClose());
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(ProtocolTest, ChunkedBodyUnderTheLimitIsAccepted) {
  HttpConnection connection(port());
  ASSERT_TRUE(
      connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_EQ(response->status, 200);
  EXPECT_FALSE(connection.closedByPeer());
}

TEST_F(ProtocolTest, ExpectContinueGets100BeforeTheBody) {
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  // A client waiting for 100 Continue sends nothing more until it arrives.
  ASSERT_TRUE(connection.readUntil("\r\n\r\n")) << connection.lastError();
  EXPECT_EQ(connection.received().rfind("HTTP/1.1 100 Continue\r\n", 0), 0u)
      << connection.received();
  connection.consume(connection.received().find("\r\n\r\n") + 4);
  ASSERT_TRUE(connection.send("hello"));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_EQ(response->status, 200);
}

TEST_F(ProtocolTest, ExpectContinueWithOversizedBodyIs413WithoutContinue) {
  HttpConnection connection(port());
  ASSERT_TRUE(
      connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      "Content-Length: 10485760\r\n\r\n"));
  ASSERT_TRUE(connection.readUntil("\r\n\r\n")) << connection.lastError();
  EXPECT_NE(connection.received().rfind("HTTP/1.1 100", 0), 0u)
      << "asked for a body it will refuse: " << connection.received();
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_TRUE(isJsonError(*response, 413, "body_too_large"));
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(ProtocolTest, ContentLengthWithChunkedCannotSmuggleARequest) {
  // The classic CL.TE desync: a front end using Content-Length would see one request, a back end
  // using chunked two. RFC 9112 6.3: reject, or use chunked and close the connection after
  // answering; either way the tail must never be answered as a second request.
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  if (response->status == 400) {
    EXPECT_TRUE(isJsonError(*response, 400, "bad_request"));
  } else {
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->header("connection"), "close")
        << "a request with both Content-Length and chunked must end its connection";
  }
  EXPECT_TRUE(connection.waitForClose());
  EXPECT_EQ(connection.received().find("HTTP/1.1"), std::string::npos)
      << "the smuggled request was answered: " << connection.received();
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(ProtocolTest, TransferEncodingWithoutFinalChunkedIs400AndClosed) {
  // RFC 9112 6.3: when chunked is not the final transfer coding of a request, its body length
  // cannot be known, and the server MUST answer 400 and close. Treating the request as bodyless
  // instead makes the body's bytes the next request: here a smuggled GET /smuggled, which a
  // proxy in front (seeing one request with a body) never vetted.
  for (const char* coding : {"gzip", "chunked, gzip"}) {
    HttpConnection connection(port());
    ASSERT_TRUE(connection.send(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n") +
                                "Transfer-Encoding: " + coding +
                                "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto response = connection.readResponse();
    ASSERT_TRUE(response) << coding << ": " << connection.lastError();
    EXPECT_TRUE(isJsonError(*response, 400, "bad_request")) << "Transfer-Encoding: " << coding;
    // Short wait: a correct server has closed at once; a wrong one would only time out.
    EXPECT_TRUE(connection.waitForClose(std::chrono::seconds(2))) << coding;
    EXPECT_EQ(connection.received().find("/smuggled"), std::string::npos)
        << "Transfer-Encoding: " << coding << ": the body was answered as a second request:\n"
        << connection.received();
  }
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(ProtocolTest, Http11RequestWithoutHostIs400) {
  // RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request that lacks Host.
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send("GET /healthz HTTP/1.1\r\n\r\n"));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_TRUE(isJsonError(*response, 400, "bad_request"));
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(ProtocolTest, NonOriginFormTargetIs400) {
  for (const char* target : {"http://example.com/healthz", "*", "healthz"}) {
    const HttpResponse response = fetch(port(), "GET", target);
    EXPECT_TRUE(isJsonError(response, 400, "bad_request")) << target;
  }
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(ProtocolTest, HeadOfUnknownRouteIs404WithoutBody) {
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(buildRequest("HEAD", "/nope")));
  const auto response = connection.readResponse(kDefaultTimeout, /*head_request=*/true);
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_EQ(response->status, 404);
  // Anything the server wrongly sent as a body would show up here.
  ASSERT_TRUE(connection.send(buildRequest("GET", "/healthz")));
  const auto next = connection.readResponse();
  ASSERT_TRUE(next) << connection.lastError();
  EXPECT_EQ(next->status, 200) << "a HEAD response carried a body";
}

TEST_F(ProtocolTest, GzipBodiesAreInflatedWithinLimits) {
  const std::string small = gzip(std::string(1000, 'a'));
  EXPECT_EQ(fetch(port(), "GET", "/healthz", {{"Content-Encoding", "gzip"}}, small).status, 200);

  const HttpResponse garbage =
      fetch(port(), "GET", "/healthz", {{"Content-Encoding", "gzip"}}, "definitely not gzip");
  EXPECT_TRUE(isJsonError(garbage, 400, "bad_request"));

  const HttpResponse unsupported =
      fetch(port(), "GET", "/healthz", {{"Content-Encoding", "br"}}, "xyz");
  EXPECT_TRUE(isJsonError(unsupported, 415, "unsupported_media_type"));

  // 1 MiB of zeros compresses to about 1 KiB: under max_body_bytes as sent, over
  // max_inflated_body_bytes (256 KiB) once inflated. A compression bomb must stop at the limit.
  const std::string bomb = gzip(std::string(1024 * 1024, '\0'));
  ASSERT_LT(bomb.size(), 64u * 1024);
  const HttpResponse inflated =
      fetch(port(), "GET", "/healthz", {{"Content-Encoding", "gzip"}}, bomb);
  EXPECT_TRUE(isJsonError(inflated, 413, "body_too_large"));
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(ProtocolTest, ClientVanishingMidHeaderOrMidBodyDoesNotHurtTheServer) {
  // Every way of leaving early: FIN and RST, in the head and in the body, plain and chunked.
  const std::string partial_head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ";
  const std::string partial_body =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(400, 'x');
  const std::string partial_chunk =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nabc";
  for (const std::string* bytes : {&partial_head, &partial_body, &partial_chunk}) {
    for (bool reset : {false, true}) {
      {
        HttpConnection connection(port());
        ASSERT_TRUE(connection.send(*bytes));
        // Let the server start on it, so the disconnect lands mid-read, not before it.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (reset) {
          connection.resetAndClose();
        } else {
          connection.close();
        }
      }
      EXPECT_TRUE(answersHealthz(port())) << (reset ? "after RST: " : "after FIN: ") << *bytes;
    }
  }
  // And the server's bookkeeping saw them go.
  bool drained = false;
  for (int i = 0; i < 100 && !drained; ++i) {
    const HttpResponse metrics = get(port(), "/metrics");
    drained = metricValue(metrics.body, "pharos_http_connections_open") == 1;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(drained) << "pharos_http_connections_open never fell back to 1";
}

TEST_F(ProtocolTest, TransferCodingsOtherThanChunkedAre501AndClosed) {
  // chunked is final, so the body can be read, but its gzip transfer coding would reach the
  // handler undecoded: refuse it (compressed bodies use Content-Encoding).
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(
      "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n"));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_TRUE(isJsonError(*response, 501, "not_implemented"));
  EXPECT_TRUE(connection.waitForClose(std::chrono::seconds(2)));
  EXPECT_TRUE(answersHealthz(port()));
}

}  // namespace
}  // namespace pharos::testing
