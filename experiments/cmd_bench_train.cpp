// condense bench train --preset tiny|small: training throughput on random tokens.
// Ends its output with one line `tok/s=<number> gflops=<number>`.
#include <chrono>
#include <iostream>
#include <random>

#include "core/ops.h"
#include "core/optim.h"
#include "experiments/cli.h"
#include "experiments/device.h"
#include "experiments/flops.h"

namespace condense::cmd {
namespace {

struct Preset {
  LlamaConfig model;
  int64_t batch, seq;
};

Preset preset(const std::string& name) {
  Preset p;
  if (name == "tiny") {
    p.model = {8192, 256, 4, 4, 4, 688};
    p.batch = 8;
    p.seq = 256;
  } else if (name == "small") {
    p.model = {32000, 512, 8, 8, 8, 1376};
    p.batch = 4;
    p.seq = 256;
  } else {
    fail("bench train: unknown --preset '", name, "', expected tiny or small");
  }
  return p;
}

}  // namespace

int bench_train(const cli::Args& args) {
  std::string preset_name, device_name;
  int64_t steps, warmup;
  cli::po::options_description desc("bench train");
  desc.add_options()("preset", cli::po::value(&preset_name)->default_value("tiny"),
                     "tiny (V8192 d256 L4 ff688, 8x256) or small (V32000 d512 L8 ff1376, 4x256)")(
      "steps", cli::po::value(&steps)->default_value(5), "timed steps")(
      "warmup", cli::po::value(&warmup)->default_value(2), "untimed steps first")(
      "device", cli::po::value(&device_name)->default_value("cpu"), "cpu or cuda");
  cli::po::variables_map vm;
  if (!cli::parse("bench train", desc, args, vm)) return 0;
  const Preset p = preset(preset_name);
  const Device device = exp::parse_device(device_name);
  Llama model(p.model, 1, device);
  AdamWConfig ocfg;
  AdamW opt(model.params(), ocfg);
  std::mt19937 gen(0);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(p.model.vocab_size - 1));
  std::vector<int32_t> ids(static_cast<size_t>(p.batch * p.seq)), tgt(ids.size());
  double seconds = 0;
  float loss = 0;
  for (int64_t s = 0; s < warmup + steps; ++s) {
    for (auto& x : ids) x = tok(gen);
    for (auto& x : tgt) x = tok(gen);
    const auto t0 = std::chrono::steady_clock::now();
    Tape tape;
    ForwardArgs fa;
    fa.ids = Tensor::from_i32(ids, {p.batch, p.seq}, device);
    Var l = ops::cross_entropy(tape, model.forward(tape, fa),
                               Tensor::from_i32(tgt, {p.batch, p.seq}, device));
    tape.backward(l);
    opt.step();
    opt.zero_grad();
    loss = l.value().to_vector()[0];
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= warmup) seconds += dt;
    std::cerr << "step " << s << (s < warmup ? " (warm-up)" : "") << " loss " << loss << " "
              << dt * 1000 << " ms\n";
  }
  const double tokens = static_cast<double>(p.batch * p.seq * steps);
  const double flops = exp::train_flops_per_step(model, p.batch, p.seq) * steps;
  std::cout << "preset=" << preset_name << " params=" << model.num_params() << " batch=" << p.batch
            << "x" << p.seq << " steps=" << steps << "\n";
  std::cout << "tok/s=" << tokens / seconds << " gflops=" << flops / seconds / 1e9 << std::endl;
  return 0;
}

}  // namespace condense::cmd
