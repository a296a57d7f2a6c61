// condense chat --method ccm --run.dir RUN [--chat.max_new_tokens N] [--ccm.* overrides]
// CCM's interactive mode (METHODS.md §2.6, test_interact.py): every line read from
// stdin is a query x, answered by greedy decoding that reads only the compressed
// memory (online.h); the exchange "x sep y" is then compressed into the memory as
// the next context c(t). After each turn stdout has the answer's line and then
//   memory: <E> KV entries, <bytes> bytes (<t> contexts)
// (concat_recur: n_tok entries more per turn; merge_recur: n_tok; plus BOS with sink).
// Empty lines are skipped; end of input ends the dialogue.
#include <iostream>
#include <string>

#include "eval/kv_prefix.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/commands.h"
#include "experiments/methods/ccm/online.h"
#include "experiments/methods/ccm/run.h"

namespace condense::ccm {

int chat(const cli::Args& args) {
  int64_t max_new_tokens = 64;
  cli::po::options_description desc("chat --method ccm");
  desc.add_options()("chat.max_new_tokens",
                     cli::po::value(&max_new_tokens)->default_value(max_new_tokens),
                     "the longest answer, in tokens");
  RunOptions o;
  OpenedRun run;
  if (!open_run("chat --method ccm", args, desc, o, run)) return 0;
  if (max_new_tokens <= 0)
    fail("chat --method ccm: --chat.max_new_tokens must be positive, got ", max_new_tokens);
  const Llama& model = *run.model;
  const data::Tokenizer& tok = *run.tokenizer;
  const Layout& l = run.layout;
  const Tensor& table = model.param(kTableName).var.value();
  const int64_t entry_bytes = eval::kv_bytes_per_token(model.config());

  eval::BatchGenerateConfig cfg;
  cfg.max_new_tokens = max_new_tokens;
  cfg.stop_ids = {l.eos};
  cfg.vocab_limit = tok.vocab_size();
  OnlineMemory mem(1);
  for (std::string line; std::getline(std::cin, line);) {
    if (line.empty()) continue;
    const std::vector<int32_t> x = tok.encode_continuation(line);
    const std::vector<std::vector<int32_t>> query{query_tokens(l, mem[0], x)};
    std::vector<int32_t> y = answer(model, mem, query, l.eos, cfg).tokens[0];
    if (!y.empty() && y.back() == l.eos) y.pop_back();
    std::cout << tok.decode(y) << "\n";
    std::vector<int32_t> exchange = x;
    exchange.insert(exchange.end(), l.sep.begin(), l.sep.end());
    exchange.insert(exchange.end(), y.begin(), y.end());
    compress(model, table, l, mem, {&exchange}, l.eos);
    std::cout << "memory: " << mem[0].entries << " KV entries, " << mem[0].entries * entry_bytes
              << " bytes (" << mem[0].steps << " contexts)" << std::endl;
  }
  return 0;
}

}  // namespace condense::ccm
