#!/usr/bin/env python3
"""Writes the hand-made seed files of fuzz/corpus/ (the committed bytes are what counts; this
script documents how the binary ones were made and can regenerate them).

    python3 fuzz/make_seeds.py        # rewrites the seeds below, leaves other corpus files alone

Seeds are named for what they exercise. Crash reproducers added later are named crash-<what>.
"""
import gzip
import json
import pathlib
import zlib

HERE = pathlib.Path(__file__).resolve().parent
KEY = "phk_AbCdEf012345_0123456789abcdefghijABCDEFGHIJ"  # Pharos-shaped, not a real key

RUN = json.dumps({
    "id": "0b6c6a9e-1f2c-4c8e-9a8d-2f1d0e7a9c11",
    "name": "ChatOpenAI",
    "run_type": "llm",
    "start_time": "2026-11-26T21:10:41.123Z",
    "inputs": {"messages": [{"role": "user", "content": "Hello, \u00e9t\u00e9 \u2603"}]},
    "session_name": "default",
}, separators=(",", ":")).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + body


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return request(f"POST {path} HTTP/1.1\nHost: 127.0.0.1:8080\n{extra}"
                   f"Content-Length: {len(body)}\n\n", body)


def chunked(body: bytes, sizes, extension: str = "") -> bytes:
    out, pos = b"", 0
    for n in sizes:
        part = body[pos:pos + n]
        pos += n
        out += f"{len(part):x}{extension}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


http_seeds = {
    "get_healthz": request("GET /healthz HTTP/1.1\nHost: 127.0.0.1:8080\nUser-Agent: curl/7.88.1\n"
                           "Accept: */*\n\n"),
    "head_healthz": request("HEAD /healthz HTTP/1.1\nHost: localhost\n\n"),
    "get_run_with_key": request("GET /api/v1/runs/0b6c6a9e-1f2c-4c8e-9a8d-2f1d0e7a9c11 HTTP/1.1\n"
                                f"Host: localhost\nx-api-key: {KEY}\n\n"),
    "get_whoami_bearer": request("GET /api/v1/auth/whoami HTTP/1.1\nHost: localhost\n"
                                 f"Authorization: Bearer {KEY}\n\n"),
    "get_sessions_key_undefined": request(
        "GET /api/v1/sessions?name=x&limit=1 HTTP/1.1\nHost: localhost\nx-api-key: undefined\n"
        "User-Agent: langsmith-js/0.10.5\nAccept: application/json\n\n"),
    "get_session_stats_query": request(
        "GET /api/v1/sessions/3f1c%2D9a/stats?limit=10&cursor=a%20b+c&id=1&id=2&id=%41&&=&flag "
        "HTTP/1.1\nHost: localhost\n\n"),
    "get_prompt_commit_params": request(
        "GET /api/v1/prompts/%7Eme/my%20prompt/commits/latest/ HTTP/1.1\nHost: localhost\n\n"),
    "pct_encoded_slash_in_param": request("GET /api/v1/runs/a%2Fb%20c HTTP/1.1\nHost: x\n\n"),
    "pct_invalid_utf8_param": request("GET /api/v1/runs/%E2%82%FF%00 HTTP/1.1\nHost: x\n\n"),
    "pct_malformed": request("GET /api/v1/runs/%zz%4 HTTP/1.1\nHost: x\n\n"),
    "double_slashes_trailing": request("GET //api//v1/runs/x/ HTTP/1.1\nHost: x\n\n"),
    "bare_question_mark": request("GET /? HTTP/1.1\nHost: x\n\n"),
    "target_only_question_mark": request("GET ? HTTP/1.1\nHost: x\n\n"),
    "absolute_form_target": request("GET http://example.com/healthz?x=1 HTTP/1.1\nHost: x\n\n"),
    "asterisk_options": request("OPTIONS * HTTP/1.1\nHost: x\n\n"),
    "method_not_allowed": request("DELETE /healthz HTTP/1.1\nHost: x\nContent-Length: 0\n\n"),
    "post_run_json": post("/api/v1/runs", RUN, "Content-Type: application/json\n"),
    "post_run_gzip": post("/api/v1/runs", gz(RUN),
                          "Content-Type: application/json\nContent-Encoding: gzip\n"),
    "post_run_deflate": post("/api/v1/runs", zlib.compress(RUN, 9),
                             "Content-Type: application/json\nContent-Encoding: deflate\n"),
    "post_gzip_bomb": post("/api/v1/runs/batch", gz(b"\0" * (2 * 1024 * 1024)),
                           "Content-Encoding: GZIP \n"),
    "post_unsupported_encoding": post("/v1/traces", b"\x0a\x00", "Content-Encoding: br\n"
                                      "Content-Type: application/x-protobuf\n"),
    "post_chunked_extensions": request(
        "POST /v1/chat/completions HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n"
        "Content-Type: application/json\n\n",
        chunked(b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
                [7, 20, 1000], ';ext="quoted value";n=1')),
    "post_chunked_gzip_trailer": request(
        "PATCH /api/v1/runs/0b6c6a9e HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n"
        "Content-Encoding: gzip\nTrailer: x-checksum\n\n",
        chunked(gz(RUN), [10, 50, 4096])[:-2] + b"x-checksum: 1234\r\n\r\n"),
    "expect_100_continue": post("/api/v1/feedback", b'{"run_id":"x","key":"correctness","score":1}',
                                "Expect: 100-continue\n"),
    "content_length_over_limit": request("POST /api/v1/runs HTTP/1.1\nHost: x\n"
                                         "Content-Length: 999999999999\n\n{}"),
    "content_length_and_chunked": request(
        "POST /api/v1/runs HTTP/1.1\nHost: x\nContent-Length: 4\nTransfer-Encoding: chunked\n\n",
        b"2\r\n{}\r\n0\r\n\r\n"),
    "duplicate_content_length": request("POST /api/v1/runs HTTP/1.1\nHost: x\nContent-Length: 2\n"
                                        "Content-Length: 3\n\n{}"),
    "truncated_body": request("POST /api/v1/runs HTTP/1.1\nHost: x\nContent-Length: 100\n\n",
                              b'{"id":'),
    "huge_header": request("GET /healthz HTTP/1.1\nHost: x\nX-Big: " + "a" * 9000 + "\n\n"),
    "bad_request_line": request("GARBAGE\n\n"),
    "bad_version": request("GET /healthz HTTP/9.9\nHost: x\n\n"),
    "header_without_colon": request("GET /healthz HTTP/1.1\nHost x\n obs-fold\n\n"),
    "http10_keepalive": request("GET /readyz HTTP/1.0\nConnection: keep-alive\n\n"
                                "GET /metrics HTTP/1.0\n\n"),
    "pipelined": (request("GET /healthz HTTP/1.1\nHost: x\n\n")
                  + post("/api/v1/runs", RUN, "Content-Encoding: identity\n")
                  + request("GET /api/v1/sessions/s1/stats HTTP/1.1\nHost: x\n\n")
                  + request("GET /v1/models/gpt-4o HTTP/1.1\nHost: x\nConnection: close\n\n")
                  + request("GET /after-close HTTP/1.1\nHost: x\n\n")),
}

raw_json = json.dumps({"post": [json.loads(RUN)] * 20}).encode()
gzip_json = gz(raw_json)
coding_seeds = {
    "gzip_json": gzip_json,
    "zlib_json": zlib.compress(raw_json, 9),
    "raw_deflate_no_wrapper": raw_deflate(raw_json),
    "gzip_truncated": gzip_json[: len(gzip_json) // 2],
    "gzip_concatenated_members": gz(b'{"a":') + gz(b'1}') + gz(b""),
    "gzip_trailing_garbage": gzip_json + b"garbage",
    "gzip_bad_crc": gzip_json[:-8] + bytes([gzip_json[-8] ^ 0xFF]) + gzip_json[-7:],
    "gzip_bomb": gz(b"\0" * (4 * 1024 * 1024)),
    "gzip_empty": gz(b""),
    "zlib_preset_dictionary": (lambda c: c.compress(b"hello hello") + c.flush())(
        zlib.compressobj(9, zlib.DEFLATED, 15, zdict=b"hello")),
    "plain_text": b'{"not":"compressed"}',
}


def write(directory: str, seeds: dict) -> None:
    target = HERE / "corpus" / directory
    target.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (target / name).write_bytes(data)


write("http_request", http_seeds)
write("content_coding", coding_seeds)
print(f"wrote {len(http_seeds)} http_request and {len(coding_seeds)} content_coding seeds")
