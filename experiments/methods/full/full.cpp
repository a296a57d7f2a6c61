// Full-context fine-tuning: the reference a compression method is measured against.
// The model reads the whole prompt (instruction, then input) as plain causal text and
// learns the completion. Nothing is compressed: compress() keeps the keys/values of
// every context token, and answer() decodes the query against them.
#include "eval/kv_prefix.h"
#include "experiments/tasks/instruct_method.h"

namespace condense::methods {
namespace {

class Full : public instruct::InstructMethod {
 public:
  const char* name() const override { return "full"; }

  int64_t prompt_length(const instruct::Example& e) const override {
    return static_cast<int64_t>(e.instruction.size() + e.suffix.size());
  }

  std::string prompt_text(const std::string& instruction, const std::string& input) const override {
    return "Instruction: " + instruction + "\n" + (input.empty() ? "" : "\nInput: " + input) +
           "\nOutput:";
  }

  Memory compress(const Llama& model, const Records& records) const override {
    std::vector<std::vector<int32_t>> contexts;
    for (const instruct::Example* r : records) contexts.push_back(r->instruction);
    const eval::PromptBatch b = eval::causal_batch(contexts, {}, templ().eos, model.device());
    return {eval::cache_last_columns(model, b, b.ids.dim(1))};
  }

  eval::BatchGenerateResult answer(const Llama& model, const Memory& memory, const Records& records,
                                   const eval::BatchGenerateConfig& cfg) const override {
    std::vector<std::vector<int32_t>> queries;
    std::vector<int64_t> context_lengths;
    for (const instruct::Example* r : records) {
      queries.push_back(r->suffix);
      context_lengths.push_back(static_cast<int64_t>(r->instruction.size()));
    }
    return eval::generate_batch(
        model, &memory.kv,
        eval::causal_batch(queries, context_lengths, templ().eos, model.device()), cfg);
  }

 protected:
  // Right-padded causal rows from position 0 (the default positions and mask): prompt
  // ⊕ completion cut to max_length, without its last token; targets on the completion.
  instruct::TrainingRows training_rows(const Records& records, int64_t max_length) const override {
    std::vector<std::vector<int32_t>> seqs;
    std::vector<int64_t> prompts;
    int64_t T = 0;
    for (const instruct::Example* r : records) {
      std::vector<int32_t> s = r->instruction;
      s.insert(s.end(), r->suffix.begin(), r->suffix.end());
      prompts.push_back(static_cast<int64_t>(s.size()));
      s.insert(s.end(), r->completion.begin(), r->completion.end());
      if (static_cast<int64_t>(s.size()) > max_length) s.resize(static_cast<size_t>(max_length));
      T = std::max<int64_t>(T, static_cast<int64_t>(s.size()) - 1);
      seqs.push_back(std::move(s));
    }
    instruct::TrainingRows out;
    data::TokenBatch& b = out.rows;
    b.rows = static_cast<int64_t>(records.size());
    b.T = T;
    b.inputs.assign(static_cast<size_t>(b.rows * T), templ().eos);
    b.targets.assign(b.inputs.size(), -100);
    for (int64_t r = 0; r < b.rows; ++r) {
      const int64_t n = static_cast<int64_t>(seqs[r].size()) - 1;
      for (int64_t t = 0; t < n; ++t) {
        b.inputs[r * T + t] = seqs[r][t];
        if (t + 1 >= prompts[r]) b.targets[r * T + t] = seqs[r][t + 1];
      }
      out.tokens += n;
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Method> make_full() {
  return std::make_unique<Full>();
}

}  // namespace condense::methods
