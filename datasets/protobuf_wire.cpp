#include "datasets/protobuf_wire.h"

#include <cstring>

#include "core/error.h"

namespace condense::data::pb {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_tag(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (uint64_t{field} << 3) | type);
}

void put_int(std::string& out, uint32_t field, int64_t v) {
  put_tag(out, field, kVarint);
  put_varint(out, static_cast<uint64_t>(v));
}

void put_bool(std::string& out, uint32_t field, bool v) {
  put_int(out, field, v ? 1 : 0);
}

void put_float(std::string& out, uint32_t field, float v) {
  put_tag(out, field, kFixed32);
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_tag(out, field, kBytes);
  put_varint(out, bytes.size());
  out.append(bytes);
}

namespace {

uint64_t get_varint(std::string_view s, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) fail("protobuf: truncated varint");
    auto byte = static_cast<uint8_t>(s[pos++]);
    v |= uint64_t{byte & 0x7fu} << shift;
    if (byte < 0x80) return v;
  }
  fail("protobuf: varint longer than 10 bytes");
}

}  // namespace

void for_each_field(std::string_view message, const std::function<void(const Field&)>& fn) {
  size_t pos = 0;
  while (pos < message.size()) {
    const size_t start = pos;
    const uint64_t key = get_varint(message, pos);
    Field f{static_cast<uint32_t>(key >> 3), static_cast<WireType>(key & 7), 0, {}, {}};
    switch (f.type) {
      case kVarint:
        f.varint = get_varint(message, pos);
        break;
      case kFixed64:
      case kFixed32: {
        const size_t n = f.type == kFixed64 ? 8 : 4;
        if (message.size() - pos < n) fail("protobuf: truncated fixed-width field");
        pos += n;
        break;
      }
      case kBytes: {
        const uint64_t n = get_varint(message, pos);
        if (n > message.size() - pos) fail("protobuf: bytes field runs past the end");
        f.payload = message.substr(pos, n);
        pos += n;
        break;
      }
      default:
        fail("protobuf: unsupported wire type ", static_cast<int>(f.type));
    }
    f.raw = message.substr(start, pos - start);
    fn(f);
  }
}

}  // namespace condense::data::pb
