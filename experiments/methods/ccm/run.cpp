#include "experiments/methods/ccm/run.h"

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/h5.h"
#include "experiments/device.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/model_dir.h"
#include "experiments/run_dir.h"

namespace condense::ccm {

void add_run_options(cli::po::options_description& desc, RunOptions& o) {
  namespace po = cli::po;
  desc.add_options()("run.dir", po::value(&o.run_dir)->required(),
                     "a ccm training run (its newest checkpoint)")(
      "train.init_from", po::value(&o.base)->default_value(""),
      "the base the run must have been trained over (checked; the run holds its weights)")(
      "ccm.attn", po::value(&o.attn)->default_value(o.attn),
      "concat_recur | merge_recur (the run's own by default)")(
      "ccm.n_tok", po::value(&o.n_tok)->default_value(o.n_tok), "<COMP> tokens per context")(
      "ccm.sink", po::value(&o.sink)->default_value(o.sink), "BOS always visible")(
      "ccm.lora_r", po::value(&o.lora_r)->default_value(o.lora_r), "conditional LoRA rank")(
      "ccm.lora_alpha", po::value(&o.lora_alpha)->default_value(o.lora_alpha),
      "conditional LoRA alpha")("ccm.train_base",
                                po::value(&o.train_base)->default_value(o.train_base),
                                "the run trained the base weights (no LoRA)")(
      "device", po::value(&o.device)->default_value(o.device), "cpu or cuda")(
      "method", po::value<std::string>(), "ccm");
}

void check_table(const std::string& checkpoint, const Layout& l) {
  const int64_t want = table_rows(l.attn, l.n_tok);
  const h5::File f(checkpoint, h5::File::Mode::read);
  const std::string name = std::string("/") + kTableName;
  if (!f.exists(name))
    fail("ccm: ", checkpoint, " has no <COMP>/<SUM> table ", kTableName, " (not a ccm run)");
  const int64_t rows = f.shape(name).at(0);
  if (rows != want)
    fail("ccm: ", checkpoint, " has a <COMP>/<SUM> table of ", rows, " rows; ", attn_name(l.attn),
         " with n_tok ", l.n_tok, " needs ", want,
         uses_sum(l.attn) ? " (n <COMP> + n <SUM>: a merge layout needs a run trained with <SUM>)"
                          : " (n <COMP>)");
}

void check_base(const std::string& checkpoint, const std::string& base) {
  const std::string base_file = exp::checkpoint_in(base);
  const CheckpointContents want = read_checkpoint(base_file, false);
  const CheckpointContents got = read_checkpoint(checkpoint, false);
  if (!(want.config == got.config))
    fail("ccm: ", checkpoint, " was not trained over the base ", base,
         ": the base is a model of another config");
  for (const auto& [name, t] : want.params) {
    // A base that was itself a CCM run (--ccm.train_base) has a table too: the run
    // trains its own.
    if (name == kTableName) continue;
    const auto it = got.params.find(name);
    if (it == got.params.end() || it->second.shape() != t.shape() ||
        it->second.to_vector() != t.to_vector())
      fail("ccm: ", checkpoint, " was not trained over the base ", base, ": its ", name,
           " is another (an adapter for another base model)");
  }
}

Layout dialogue_layout(const std::string& attn, int64_t n_tok, bool sink,
                       const data::Tokenizer& tok) {
  Layout l;
  l.attn = parse_attn(attn);
  l.n_tok = n_tok;
  l.sink = sink;
  check_layout(l);
  l.bos = tok.bos_id();
  l.eos = tok.eos_id();
  l.sep = tok.encode_continuation("\nA:");
  return l;
}

bool open_run(const std::string& command, const cli::Args& args, cli::po::options_description desc,
              RunOptions& o, OpenedRun& run) {
  add_run_options(desc, o);
  const std::string dir = cli::peek(command, args, "run.dir", "");
  const exp::RunConfig rc = dir.empty() ? exp::RunConfig{} : exp::read_run_config(dir, "ccm");
  cli::po::variables_map vm;
  if (!cli::parse(command, desc, args, vm, false, rc.section)) return false;
  if (!rc.method.empty() && rc.method != "ccm")
    fail(command, ": ", o.run_dir, " was trained with --method ", rc.method, ", not ccm");
  const Device device = exp::parse_device(o.device);
  const exp::ModelFiles files = exp::locate_model(o.run_dir);
  run.tokenizer = std::make_unique<data::Tokenizer>(data::Tokenizer::load(files.tokenizer));
  run.layout = dialogue_layout(o.attn, o.n_tok, o.sink, *run.tokenizer);
  if (run.layout.attn != Attn::concat_recur && run.layout.attn != Attn::merge_recur)
    fail(command,
         ": --ccm.attn must be concat_recur or merge_recur (the types that compress "
         "online), not ",
         o.attn);
  check_table(files.checkpoint, run.layout);
  if (!o.base.empty()) check_base(files.checkpoint, o.base);
  run.model = std::make_unique<Llama>(read_checkpoint_config(files.checkpoint), 0);
  AdapterOptions a;
  a.lora_r = o.lora_r;
  a.lora_alpha = o.lora_alpha;
  a.train_base = o.train_base;
  // The table and the LoRA pairs take the checkpoint's values.
  extend_model(
      *run.model,
      Tensor::zeros({table_rows(run.layout.attn, run.layout.n_tok), run.model->config().dim}), a);
  load_checkpoint(files.checkpoint, *run.model, nullptr);
  if (device != Device::cpu) run.model->to(device);
  return true;
}

}  // namespace condense::ccm
