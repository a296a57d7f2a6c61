// condense eval ppl --model DIR --data FILE.h5: perplexity over a whole token
// dataset, in windows of --seq-len next-token predictions.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "core/ops.h"
#include "datasets/eval_windows.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "experiments/cli.h"
#include "experiments/device.h"
#include "experiments/model_dir.h"

namespace condense::cmd {

int eval_ppl(const cli::Args& args) {
  std::string model_dir, data_path, device_name;
  int64_t seq_len, batch_size, max_batches;
  cli::po::options_description desc("eval ppl");
  desc.add_options()("model", cli::po::value(&model_dir)->required(), "model or run directory")(
      "data", cli::po::value(&data_path)->required(), "token dataset .h5")(
      "seq-len", cli::po::value(&seq_len)->default_value(256), "tokens per window")(
      "batch-size", cli::po::value(&batch_size)->default_value(8), "windows per forward pass")(
      "max-batches", cli::po::value(&max_batches)->default_value(0),
      "stop after this many (0: all)")("device", cli::po::value(&device_name)->default_value("cpu"),
                                       "cpu or cuda");
  cli::po::variables_map vm;
  if (!cli::parse("eval ppl", desc, args, vm)) return 0;
  const Device device = exp::parse_device(device_name);
  const exp::ModelFiles files = exp::locate_model(model_dir);
  const data::Tokenizer tok = data::Tokenizer::load(files.tokenizer);
  const data::TokenDataset ds = data::TokenDataset::open(data_path, tok);
  const Llama model = exp::load_model(files.checkpoint, device);
  const data::EvalWindows windows(ds, seq_len);
  Tape no_grad(false);
  double nll = 0;
  int64_t count = 0;
  int64_t n_batches = windows.num_batches(batch_size);
  if (max_batches > 0) n_batches = std::min(n_batches, max_batches);
  for (int64_t b = 0; b < n_batches; ++b) {
    const data::TokenBatch batch = windows.batch(b, batch_size);
    Var logits = model.forward(no_grad, ForwardArgs::tokens(Tensor::from_i32(
                                            batch.inputs, {batch.rows, batch.T}, device)));
    const std::vector<float> rows =
        ops::cross_entropy_rows(logits.value(),
                                Tensor::from_i32(batch.targets, {batch.rows, batch.T}, device))
            .to_vector();
    for (size_t i = 0; i < rows.size(); ++i)
      if (batch.targets[i] != -100) {
        nll += rows[i];
        ++count;
      }
  }
  if (count == 0) fail("eval ppl: ", data_path, " has no window of ", seq_len + 1, " tokens");
  const double mean = nll / static_cast<double>(count);
  std::cerr << "evaluated " << count << " tokens of " << data_path << "\n";
  std::cout << std::fixed << std::setprecision(4) << "tokens=" << count << " loss=" << mean
            << " ppl=" << std::exp(mean) << std::endl;
  return 0;
}

}  // namespace condense::cmd
