// SHA-256 (FIPS 180-4). Datasets record the hash of the tokenizer model they were
// made with, so that a run cannot silently train on ids from another vocabulary;
// a checkpoint that leaves out its frozen base records the base file's hash.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace condense {

// Incremental hasher: update() any number of times, then hex_digest() once.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  // Lower-case hex of the 32-byte digest. Finalises the hasher.
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);

  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view bytes);
// Hash of a whole file's bytes; throws naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace condense
