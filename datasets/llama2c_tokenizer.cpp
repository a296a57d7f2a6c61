#include "datasets/llama2c_tokenizer.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/atomic_file.h"
#include "datasets/protobuf_wire.h"

namespace condense::data {
namespace {

// Field numbers and enum values from sentencepiece_model.proto.
namespace model {
constexpr uint32_t kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3;
}
namespace piece {
constexpr uint32_t kPiece = 1, kScore = 2, kType = 3;
constexpr int kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6;
}  // namespace piece
namespace trainer {
constexpr uint32_t kModelType = 3, kVocabSize = 4, kByteFallback = 35, kUnkId = 40, kBosId = 41,
                   kEosId = 42, kPadId = 43, kUnkPiece = 45, kBosPiece = 46, kEosPiece = 47,
                   kPadPiece = 48;
constexpr int kBpe = 2;
}  // namespace trainer
namespace normalizer {
constexpr uint32_t kName = 1, kAddDummyPrefix = 3, kRemoveExtraWhitespaces = 4,
                   kEscapeWhitespaces = 5;
}

constexpr int kUnk = 0, kBos = 1, kEos = 2;

struct Entry {
  std::string piece;
  float score;
};

// llama2.c's export wrote each piece with SentencePiece's '▁' replaced by ' ' and
// BOS/EOS as "\n<s>\n" / "\n</s>\n"; undo both.
std::string restore_piece(int id, std::string text) {
  if (id == kBos) return "<s>";
  if (id == kEos) return "</s>";
  std::string out;
  for (char c : text) out += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
  return out;
}

bool is_byte_piece(const std::string& p) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && hex(p[3]) && hex(p[4]) && p[5] == '>';
}

std::vector<Entry> read_llama2c_vocab(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open llama2.c tokenizer");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  size_t pos = 0;
  auto take = [&](void* dst, size_t n, const char* what) {
    if (bytes.size() - pos < n)
      fail(path, ": truncated llama2.c tokenizer (reading ", what, " at byte ", pos, ")");
    std::memcpy(dst, bytes.data() + pos, n);
    pos += n;
  };
  int32_t max_len = 0;
  take(&max_len, 4, "max_token_length");
  if (max_len <= 0 || max_len > 1024)
    fail(path, ": not a llama2.c tokenizer (max_token_length ", max_len, ")");
  std::vector<Entry> entries;
  while (pos < bytes.size()) {
    float score;
    int32_t len;
    take(&score, 4, "a score");
    take(&len, 4, "a token length");
    if (len <= 0 || len > max_len)
      fail(path, ": token ", entries.size(), " has length ", len, " (max_token_length ", max_len,
           ")");
    std::string text(static_cast<size_t>(len), '\0');
    take(text.data(), text.size(), "token bytes");
    entries.push_back({restore_piece(static_cast<int>(entries.size()), text), score});
  }
  if (entries.size() < 3 + 256)
    fail(path, ": only ", entries.size(), " tokens; expected <unk>, <s>, </s> and 256 bytes");
  return entries;
}

int piece_type(int id, const std::string& p) {
  if (id == kUnk) return piece::kUnknown;
  if (id == kBos || id == kEos) return piece::kControl;
  return is_byte_piece(p) ? piece::kByte : piece::kNormal;
}

std::string model_proto(const std::string& path, const std::vector<Entry>& entries) {
  std::string out;
  std::set<std::string> seen;
  for (size_t id = 0; id < entries.size(); ++id) {
    const Entry& e = entries[id];
    if (!seen.insert(e.piece).second) fail(path, ": token ", id, " repeats piece '", e.piece, "'");
    std::string msg;
    pb::put_bytes(msg, piece::kPiece, e.piece);
    pb::put_float(msg, piece::kScore, e.score);
    pb::put_int(msg, piece::kType, piece_type(static_cast<int>(id), e.piece));
    pb::put_bytes(out, model::kPieces, msg);
  }
  std::string spec;
  pb::put_int(spec, trainer::kModelType, trainer::kBpe);
  pb::put_int(spec, trainer::kVocabSize, static_cast<int64_t>(entries.size()));
  pb::put_bool(spec, trainer::kByteFallback, true);
  pb::put_int(spec, trainer::kUnkId, kUnk);
  pb::put_int(spec, trainer::kBosId, kBos);
  pb::put_int(spec, trainer::kEosId, kEos);
  pb::put_int(spec, trainer::kPadId, -1);
  pb::put_bytes(spec, trainer::kUnkPiece, "<unk>");
  pb::put_bytes(spec, trainer::kBosPiece, "<s>");
  pb::put_bytes(spec, trainer::kEosPiece, "</s>");
  pb::put_bytes(spec, trainer::kPadPiece, "<pad>");
  pb::put_bytes(out, model::kTrainerSpec, spec);
  std::string norm;
  pb::put_bytes(norm, normalizer::kName, "identity");
  pb::put_bool(norm, normalizer::kAddDummyPrefix, true);
  pb::put_bool(norm, normalizer::kRemoveExtraWhitespaces, false);
  pb::put_bool(norm, normalizer::kEscapeWhitespaces, true);
  pb::put_bytes(out, model::kNormalizerSpec, norm);
  return out;
}

}  // namespace

void convert_llama2c_tokenizer(const std::string& bin_path, const std::string& out_model_path) {
  write_file_atomically(out_model_path, model_proto(bin_path, read_llama2c_vocab(bin_path)));
}

}  // namespace condense::data
