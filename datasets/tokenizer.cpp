#include "datasets/tokenizer.h"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/sha256.h"
#include "datasets/protobuf_wire.h"

namespace condense::data {

// Field numbers from sentencepiece_model.proto.
namespace {
constexpr uint32_t kModelTrainerSpec = 2, kModelNormalizerSpec = 3;
constexpr uint32_t kTrainerTreatWhitespaceAsSuffix = 24;
constexpr uint32_t kNormalizerAddDummyPrefix = 3;

// The same model with normalizer_spec.add_dummy_prefix = false.
std::string without_dummy_prefix(std::string_view model) {
  std::string out;
  pb::for_each_field(model, [&](const pb::Field& f) {
    if (f.number != kModelNormalizerSpec || f.type != pb::kBytes) {
      out.append(f.raw);
      return;
    }
    std::string spec;
    pb::for_each_field(f.payload, [&](const pb::Field& g) {
      if (g.number != kNormalizerAddDummyPrefix) spec.append(g.raw);
    });
    pb::put_bool(spec, kNormalizerAddDummyPrefix, false);
    pb::put_bytes(out, kModelNormalizerSpec, spec);
  });
  return out;
}

bool treats_whitespace_as_suffix(std::string_view model) {
  bool suffix = false;
  pb::for_each_field(model, [&](const pb::Field& f) {
    if (f.number != kModelTrainerSpec || f.type != pb::kBytes) return;
    pb::for_each_field(f.payload, [&](const pb::Field& g) {
      if (g.number == kTrainerTreatWhitespaceAsSuffix) suffix = g.varint != 0;
    });
  });
  return suffix;
}

}  // namespace

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
  sentencepiece::SentencePieceProcessor sp_continuation;
  std::string path;
  std::string sha256;
  bool can_split = false;
};

Tokenizer Tokenizer::load(const std::string& model_path) {
  if (!std::filesystem::is_regular_file(model_path))
    fail(model_path, ": no such tokenizer model file");
  std::ifstream in(model_path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in) fail(model_path, ": cannot read tokenizer model");
  const std::string model = bytes.str();

  auto impl = std::make_shared<Impl>();
  impl->path = model_path;
  impl->sha256 = sha256_hex(model);
  auto status = impl->sp.LoadFromSerializedProto(model);
  if (!status.ok()) fail(model_path, ": not a SentencePiece model (", status.ToString(), ")");
  try {
    status = impl->sp_continuation.LoadFromSerializedProto(without_dummy_prefix(model));
  } catch (const Error& e) {
    fail(model_path, ": not a SentencePiece model (", e.what(), ")");
  }
  if (!status.ok())
    fail(model_path, ": cannot derive the no-dummy-prefix model (", status.ToString(), ")");

  bool newline_in_piece = false;
  for (int id = 0; id < impl->sp.GetPieceSize(); ++id)
    newline_in_piece |= impl->sp.IdToPiece(id).find('\n') != std::string::npos;
  impl->can_split = !newline_in_piece && !treats_whitespace_as_suffix(model);
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<int> ids;
  const auto status = impl_->sp.Encode(text, &ids);
  if (!status.ok()) fail(impl_->path, ": cannot encode text: ", status.ToString());
  if ((bos && bos_id() < 0) || (eos && eos_id() < 0))
    fail(impl_->path, ": the tokenizer has no ", bos ? "BOS" : "EOS", " piece");
  std::vector<int32_t> out;
  out.reserve(ids.size() + 2);
  if (bos) out.push_back(bos_id());
  out.insert(out.end(), ids.begin(), ids.end());
  if (eos) out.push_back(eos_id());
  return out;
}

std::vector<int32_t> Tokenizer::encode_continuation(std::string_view text) const {
  std::vector<int> ids;
  const auto status = impl_->sp_continuation.Encode(text, &ids);
  if (!status.ok()) fail(impl_->path, ": cannot encode text: ", status.ToString());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  const auto status = impl_->sp.Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  if (!status.ok()) fail(impl_->path, ": cannot decode ids: ", status.ToString());
  return text;
}

int Tokenizer::vocab_size() const {
  return impl_->sp.GetPieceSize();
}
int Tokenizer::bos_id() const {
  return impl_->sp.bos_id();
}
int Tokenizer::eos_id() const {
  return impl_->sp.eos_id();
}
const std::string& Tokenizer::sha256() const {
  return impl_->sha256;
}
const std::string& Tokenizer::path() const {
  return impl_->path;
}
bool Tokenizer::can_split_at_newlines() const {
  return impl_->can_split;
}

}  // namespace condense::data
