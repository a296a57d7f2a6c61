// The few pieces of the protobuf wire format that condense needs to write and edit
// SentencePiece model files without depending on protobuf's C++ headers (Debian's
// libsentencepiece-dev does not ship the generated sentencepiece_model.pb.h).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace condense::data::pb {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v);
void put_tag(std::string& out, uint32_t field, WireType type);
// Fields of a message appended to `out`. Negative int32s are written sign-extended
// to 64 bits, as protobuf does.
void put_int(std::string& out, uint32_t field, int64_t v);
void put_bool(std::string& out, uint32_t field, bool v);
void put_float(std::string& out, uint32_t field, float v);
void put_bytes(std::string& out, uint32_t field, std::string_view bytes);

// One field as it lies in the message: `raw` is the whole field (tag included), so
// unchanged fields can be copied through; `payload` is a bytes field's content.
struct Field {
  uint32_t number;
  WireType type;
  uint64_t varint;
  std::string_view payload;
  std::string_view raw;
};

// Calls `fn` for each top-level field of `message`; throws on malformed input.
void for_each_field(std::string_view message, const std::function<void(const Field&)>& fn);

}  // namespace condense::data::pb
