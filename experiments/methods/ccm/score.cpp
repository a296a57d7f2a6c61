#include "experiments/methods/ccm/score.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"
#include "experiments/methods/ccm/batch.h"
#include "experiments/methods/ccm/mask.h"
#include "experiments/methods/ccm/online.h"

namespace condense::ccm {
namespace {

bool online(Attn a) {
  return a == Attn::concat_recur || a == Attn::merge_recur;
}

// -log softmax(logits)[target]
double nll_of(const float* logits, int64_t V, int32_t target) {
  const float m = *std::max_element(logits, logits + V);
  double s = 0;
  for (int64_t v = 0; v < V; ++v) s += std::exp(static_cast<double>(logits[v] - m));
  return std::log(s) + m - logits[target];
}

int32_t argmax(const float* logits, int64_t V) {
  return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
}

// Whether `gen` is `y` then EOS.
bool exact(const std::vector<int32_t>& gen, std::span<const int32_t> y, int32_t eos) {
  return gen.size() == y.size() + 1 && std::equal(y.begin(), y.end(), gen.begin()) &&
         gen.back() == eos;
}

struct Part {
  std::vector<std::span<const int32_t>> contexts;
  std::span<const int32_t> x, y;
};

Part split(const DialogueTurns& d) {
  if (d.size() < 2) fail("ccm: a dialogue needs at least a query and a target turn");
  return {{d.begin(), d.end() - 2}, d[d.size() - 2], d.back()};
}

// One pass over `rows` sequences: logits [B*T*V] on the host.
std::vector<float> one_pass(const Llama& model, const Tensor& table, const Layout& l,
                            const std::vector<Sequence>& seqs, int32_t pad_id, int64_t& T) {
  const data::TokenBatch b = one_pass_batch(l, seqs, pad_id);
  T = b.T;
  Tape tape(false);
  const data::BatchTensors bt =
      one_pass_tensors(tape, b, Var(table.to(model.device())), model.device());
  return model.forward(tape, bt.args).value().to(Device::cpu).to_vector();
}

// The score of each of `parts`, in order.
std::vector<DialogueScore> score_online(const Llama& model, const Tensor& table, const Layout& l,
                                        const std::vector<Part>& parts, int32_t pad_id,
                                        bool generate) {
  const int64_t V = model.config().vocab_size;
  OnlineMemory mem(parts.size());
  size_t turns = 0;
  for (const Part& p : parts) turns = std::max(turns, p.contexts.size());
  for (size_t t = 0; t < turns; ++t) {
    std::vector<std::vector<int32_t>> held(parts.size());
    std::vector<const std::vector<int32_t>*> ctx(parts.size(), nullptr);
    bool any = false;
    for (size_t r = 0; r < parts.size(); ++r)
      if (t < parts[r].contexts.size()) {
        held[r].assign(parts[r].contexts[t].begin(), parts[r].contexts[t].end());
        ctx[r] = &held[r];
        any = true;
      }
    if (any) compress(model, table, l, mem, ctx, pad_id);
  }
  std::vector<DialogueScore> s(parts.size());
  std::vector<std::vector<int32_t>> queries, scored;
  size_t longest = 0;
  for (size_t r = 0; r < parts.size(); ++r) {
    queries.push_back(query_tokens(l, mem[r], parts[r].x));
    std::vector<int32_t> q = queries.back();
    q.insert(q.end(), parts[r].y.begin(), parts[r].y.end());
    scored.push_back(std::move(q));
    longest = std::max(longest, parts[r].y.size());
  }
  const std::vector<float> logits =
      forward_with_memory(model, mem, scored, pad_id).to(Device::cpu).to_vector();
  int64_t T = 0;
  for (const auto& q : scored) T = std::max<int64_t>(T, static_cast<int64_t>(q.size()));
  eval::BatchGenerateConfig cfg;
  cfg.max_new_tokens = static_cast<int64_t>(longest) + 1;
  cfg.stop_ids = {l.eos};
  const eval::BatchGenerateResult gen =
      generate ? answer(model, mem, queries, pad_id, cfg) : eval::BatchGenerateResult{};
  for (size_t r = 0; r < parts.size(); ++r) {
    const int64_t pad = T - static_cast<int64_t>(scored[r].size());
    const int64_t q = static_cast<int64_t>(queries[r].size());
    for (size_t k = 0; k < parts[r].y.size(); ++k)
      s[r].nll += nll_of(logits.data() + (r * T + pad + q - 1 + k) * V, V, parts[r].y[k]);
    s[r].tokens = static_cast<int64_t>(parts[r].y.size());
    s[r].exact = generate && exact(gen.tokens[r], parts[r].y, l.eos);
    s[r].memory_entries = mem[r].entries;
    s[r].dialogues = 1;
  }
  return s;
}

std::vector<DialogueScore> score_one_pass(const Llama& model, const Tensor& table, const Layout& l,
                                          const std::vector<Part>& parts, int32_t pad_id,
                                          bool generate) {
  const int64_t V = model.config().vocab_size;
  std::vector<DialogueScore> s(parts.size());
  std::vector<Sequence> seqs;
  size_t longest = 0;
  for (const Part& p : parts) {
    seqs.push_back(build_sequence(l, p.contexts, p.x, p.y));
    longest = std::max(longest, p.y.size());
  }
  int64_t T = 0;
  const std::vector<float> logits = one_pass(model, table, l, seqs, pad_id, T);
  for (size_t r = 0; r < parts.size(); ++r) {
    const Sequence& q = seqs[r];
    for (size_t k = 0; k < parts[r].y.size(); ++k)
      s[r].nll += nll_of(logits.data() + (r * T + q.target_begin - 1 + k) * V, V, parts[r].y[k]);
    s[r].tokens = static_cast<int64_t>(parts[r].y.size());
    // The memory: the earlier columns the query's first token sees
    // (the separator before x; with no context the row starts at BOS and reads nothing).
    const int64_t sep = static_cast<int64_t>(l.sep.size()),
                  x = static_cast<int64_t>(parts[r].x.size());
    const bool none = parts[r].contexts.empty() || l.attn == Attn::neg_control;
    const int64_t first = none ? 0 : q.target_begin - 2 * sep - x;
    const std::vector<uint8_t> m = sequence_mask(l.attn, l.sink, q.tokens);
    const int64_t n = static_cast<int64_t>(q.tokens.size());
    for (int64_t j = 0; j < first; ++j) s[r].memory_entries += m[first * n + j];
    s[r].dialogues = 1;
  }
  if (!generate) return s;
  // Greedy answers by re-running the pass over the growing answer.
  std::vector<std::vector<int32_t>> gen(parts.size());
  for (size_t step = 0; step <= longest; ++step) {
    std::vector<Sequence> grow;
    for (size_t r = 0; r < parts.size(); ++r)
      grow.push_back(build_sequence(l, parts[r].contexts, parts[r].x, gen[r]));
    const std::vector<float> lg = one_pass(model, table, l, grow, pad_id, T);
    for (size_t r = 0; r < parts.size(); ++r)
      gen[r].push_back(argmax(
          lg.data() + (r * T + grow[r].target_begin - 1 + static_cast<int64_t>(step)) * V, V));
  }
  for (size_t r = 0; r < parts.size(); ++r) {
    std::vector<int32_t> g = gen[r];
    const auto stop = std::find(g.begin(), g.end(), l.eos);
    if (stop != g.end()) g.erase(stop + 1, g.end());
    s[r].exact = exact(g, parts[r].y, l.eos);
  }
  return s;
}

}  // namespace

double DialogueScore::ppl() const {
  return tokens ? std::exp(nll / static_cast<double>(tokens)) : std::nan("");
}
double DialogueScore::exact_match() const {
  return dialogues ? static_cast<double>(exact) / static_cast<double>(dialogues) : std::nan("");
}
double DialogueScore::mean_memory() const {
  return dialogues ? static_cast<double>(memory_entries) / static_cast<double>(dialogues)
                   : std::nan("");
}
DialogueScore& DialogueScore::operator+=(const DialogueScore& o) {
  nll += o.nll;
  tokens += o.tokens;
  exact += o.exact;
  dialogues += o.dialogues;
  memory_entries += o.memory_entries;
  return *this;
}

std::vector<DialogueScore> score_each(const Llama& model, const Tensor& table, const Layout& l,
                                      const std::vector<DialogueTurns>& dialogues, int64_t batch,
                                      int32_t pad_id, bool generate) {
  if (batch < 1) fail("ccm: scoring batch must be positive, got ", batch);
  // The positions a dialogue uses (the same online and in one pass): refused past the
  // model's max_seq_len (generate_batch checks the greedy answers' own).
  for (size_t r = 0; r < dialogues.size(); ++r) {
    const Part p = split(dialogues[r]);
    const Sequence seq = build_sequence(l, p.contexts, p.x, p.y);
    const std::vector<int32_t> pos = skip_positions(seq.tokens);
    const int64_t last = *std::max_element(pos.begin(), pos.end());
    if (last >= model.config().max_seq_len)
      fail("ccm: dialogue ", r, " needs positions up to ", last,
           ", beyond the model's max_seq_len ", model.config().max_seq_len,
           " (cut the dialogues: --ccm.eval_turns, --ccm.max_turn_tokens)");
  }
  std::vector<DialogueScore> each;
  Progress progress("ccm: scoring", static_cast<int64_t>(dialogues.size()), "dialogues");
  for (size_t at = 0; at < dialogues.size(); at += static_cast<size_t>(batch)) {
    std::vector<Part> parts;
    for (size_t r = at; r < std::min(dialogues.size(), at + static_cast<size_t>(batch)); ++r)
      parts.push_back(split(dialogues[r]));
    const std::vector<DialogueScore> rows =
        online(l.attn) ? score_online(model, table, l, parts, pad_id, generate)
                       : score_one_pass(model, table, l, parts, pad_id, generate);
    each.insert(each.end(), rows.begin(), rows.end());
    progress.advance(static_cast<int64_t>(rows.size()));
  }
  return each;
}

DialogueScores score_dialogues(const Llama& model, const Tensor& table, const Layout& l,
                               const std::vector<DialogueTurns>& dialogues, int64_t batch,
                               int32_t pad_id, bool generate) {
  const std::vector<DialogueScore> each =
      score_each(model, table, l, dialogues, batch, pad_id, generate);
  DialogueScores total;
  for (size_t r = 0; r < each.size(); ++r) {
    total.all += each[r];
    total.by_context_turns[static_cast<int64_t>(dialogues[r].size()) - 2] += each[r];
  }
  return total;
}

}  // namespace condense::ccm
