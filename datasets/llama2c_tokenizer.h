// llama2.c's tokenizer.bin -> an equivalent SentencePiece .model, so that the
// tokenizer of a llama2.c checkpoint (e.g. stories260K + tok512.bin) loads into Tokenizer.
#pragma once
#include <string>

namespace condense::data {

// Reads llama2.c's vocabulary (int32 max_token_length, then per token: float32
// score, int32 byte length, bytes) and writes a SentencePiece BPE model with the
// same pieces, scores and settings as LLaMA's tokenizer.model: byte fallback,
// identity normalisation, dummy prefix, whitespace kept. Throws naming the file on
// a malformed input; writes `out_model_path` only on success.
void convert_llama2c_tokenizer(const std::string& bin_path, const std::string& out_model_path);

}  // namespace condense::data
