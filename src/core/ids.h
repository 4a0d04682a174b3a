// Identifiers: UUIDv7 (time-ordered, so ids sort by creation and index well) and random tokens.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace pharos::core {

// "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091": 48-bit Unix milliseconds, version 7, random rest.
std::string newUuidV7(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
// True for any canonical 8-4-4-4-12 hex UUID (any version).
bool isUuid(std::string_view text);
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" from 32 hex digits. One function for every place that
// derives run ids from trace/span ids (OTLP ingest, the gateway), so they always agree.
std::string uuidFromHex(std::string_view hex32);
// RFC 4122 name-based UUID (version 5, SHA-1) of `name` in the namespace UUID `namespace_uuid`:
// the same name always gives the same id (rows of a dataset file map to the same examples).
std::string uuidV5(std::string_view namespace_uuid, std::string_view name);
// `length` characters of [A-Za-z0-9], uniformly random (for API key ids and secrets).
std::string randomAlphanumeric(std::size_t length);

}  // namespace pharos::core
