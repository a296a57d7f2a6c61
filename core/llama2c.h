// Reads a llama2.c checkpoint (legacy "v0" format: 7 int32 header, then f32
// arrays) into a condense Llama. llama2.c rotates adjacent pairs (2i, 2i+1) in
// RoPE while condense uses Hugging Face's rotate_half pairs (i, i+Dh/2), so the
// q/k projection rows are permuted on the way in, as HF's own converter does.
#pragma once
#include <string>

#include "core/model.h"

namespace condense {

Llama read_llama2c_checkpoint(const std::string& path);

}  // namespace condense
