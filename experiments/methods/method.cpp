#include "experiments/methods/method.h"

#include "core/error.h"
#include "experiments/model_dir.h"

namespace condense::methods {

ModelStart start_with_weights(const LlamaConfig& requested, const std::string& init_from,
                              int64_t tokenizer_vocab, const std::string& method) {
  ModelStart start;
  if (!init_from.empty()) {
    start.weights =
        std::make_unique<Llama>(exp::load_model(exp::checkpoint_in(init_from), Device::cpu));
    start.config = start.weights->config();
  } else {
    start.config = requested;
    if (start.config.vocab_size == 0) start.config.vocab_size = tokenizer_vocab;
  }
  if (start.config.vocab_size < tokenizer_vocab)
    fail(method, ": the model's vocabulary (", start.config.vocab_size,
         ") is smaller than the tokenizer's (", tokenizer_vocab, ")");
  return start;
}

Tensor start_embedding(const ModelStart& start, uint64_t seed) {
  const std::string embed = "model.embed_tokens.weight";
  return start.weights ? start.weights->param(embed).var.value()
                       : Llama(start.config, seed).param(embed).var.value();
}

// What a method does not offer is a one-line error naming the method.
std::string Method::evaluate(const std::string& task, const Llama&, int64_t, const std::string&,
                             const exp::RunDir*) {
  fail("method ", name(), " has no evaluation task '", task, "'");
}

int64_t Method::prompt_length(const instruct::Example&) const {
  fail("method ", name(), " does not answer instruction records");
}

std::string Method::prompt_text(const std::string&, const std::string&) const {
  fail("method ", name(), " does not answer instruction records");
}

Memory Method::compress(const Llama&, const Records&) const {
  fail("method ", name(), " has no compress()");
}

eval::BatchGenerateResult Method::answer(const Llama&, const Memory&, const Records&,
                                         const eval::BatchGenerateConfig&) const {
  fail("method ", name(), " has no answer()");
}

int Method::bench(const cli::Args&) {
  fail("bench: method ", name(), " has no benchmark");
}

int Method::chat(const cli::Args&) {
  fail("chat: method ", name(), " has no interactive dialogue (ccm has)");
}

}  // namespace condense::methods
