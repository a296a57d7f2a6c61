// Training throughput of full fine-tuning against a frozen base with LoRA adapters,
// on the same model and random tokens, one process. A frozen weight costs no
// weight-gradient GEMM, so the LoRA step should be faster; the GEMM work per step
// (multiply-adds counted by the backend) is printed beside the times.
//
//   bench_lora_train [--vocab V --dim D --layers L --heads H --ffn F --batch B --seq T]
//     [--rank r] [--targets q_proj,k_proj,v_proj,o_proj] [--steps S --warmup W]
//
// After W warm-up steps of each, the two modes alternate step by step for S timed
// pairs, so that a burst of other load on a shared machine hits both; tok/s is the
// median over a mode's steps, the speedup the median of the pairs' ratios.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "bench/train_shape_options.h"
#include "core/backend.h"
#include "core/model.h"
#include "core/ops.h"
#include "core/optim.h"

namespace condense {
namespace {

struct Args : bench::TrainShape {
  Args() { steps = 15; }
  int64_t rank = 8;
  std::vector<std::string> targets{"q_proj", "k_proj", "v_proj", "o_proj"};
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) fail("bench_lora_train: ", k, " needs a value");
    const std::string s = argv[++i];
    const int64_t v = std::atoll(s.c_str());
    if (bench::set_train_shape_option(a, k, v)) continue;
    if (k == "--rank")
      a.rank = v;
    else if (k == "--targets") {
      a.targets.clear();
      std::istringstream in(s);
      for (std::string t; std::getline(in, t, ',');) a.targets.push_back(t);
    } else
      fail("bench_lora_train: unknown option ", k);
  }
  a.model.max_seq_len = std::max(a.model.max_seq_len, a.seq);
  return a;
}

// One trainable setup: the model, its optimizer and a batch of random tokens.
struct Run {
  std::unique_ptr<Llama> model;
  std::unique_ptr<AdamW> opt;
  Tensor ids, targets;
  std::vector<double> tok_per_s;
  int64_t trainable = 0, gemm_madds = 0;
};

Run make_run(const Args& a, bool lora) {
  Run r;
  r.model = std::make_unique<Llama>(a.model, 1);
  if (lora) {
    for (Param& p : r.model->params()) r.model->set_trainable(p.name, false);
    LoraSpec spec;
    spec.targets = a.targets;
    spec.rank = a.rank;
    r.model->add_lora(spec);
  }
  for (const Param& p : r.model->params())
    if (p.trainable) r.trainable += p.var.value().numel();
  r.opt = std::make_unique<AdamW>(r.model->params(), AdamWConfig{});
  std::mt19937 g(7);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(a.model.vocab_size - 1));
  std::vector<int32_t> ids(static_cast<size_t>(a.batch * (a.seq + 1)));
  for (int32_t& t : ids) t = tok(g);
  std::vector<int32_t> in, out;
  for (int64_t b = 0; b < a.batch; ++b)
    for (int64_t t = 0; t < a.seq; ++t) {
      in.push_back(ids[b * (a.seq + 1) + t]);
      out.push_back(ids[b * (a.seq + 1) + t + 1]);
    }
  r.ids = Tensor::from_i32(in, {a.batch, a.seq});
  r.targets = Tensor::from_i32(out, {a.batch, a.seq});
  return r;
}

double step(Run& r) {
  const auto t0 = std::chrono::steady_clock::now();
  Tape tape;
  tape.backward(
      ops::cross_entropy(tape, r.model->forward(tape, ForwardArgs::tokens(r.ids)), r.targets));
  r.opt->step();
  r.opt->zero_grad();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main_impl(int argc, char** argv) {
  const Args a = parse(argc, argv);
  Run runs[2] = {make_run(a, false), make_run(a, true)};
  const double tokens = static_cast<double>(a.batch * a.seq);
  for (int w = 0; w < a.warmup; ++w)
    for (Run& r : runs) step(r);
  // Steps alternate between the modes, so each pair meets the same machine state; the
  // speedup is the median of the pairs' ratios.
  std::vector<double> ratios;
  for (int s = 0; s < a.steps; ++s) {
    for (Run& r : runs) {
      backend_for(Device::cpu).reset_stats();
      r.tok_per_s.push_back(tokens / step(r));
      r.gemm_madds = backend_for(Device::cpu).stats().gemm_multiply_adds;
    }
    ratios.push_back(runs[1].tok_per_s.back() / runs[0].tok_per_s.back());
  }
  const char* names[2] = {"full", "lora"};
  for (int i = 0; i < 2; ++i)
    std::cout << "mode=" << names[i] << " trainable_params=" << runs[i].trainable
              << " tok_per_s=" << static_cast<int64_t>(median(runs[i].tok_per_s))
              << " gemm_gmadds_per_step=" << static_cast<double>(runs[i].gemm_madds) / 1e9 << "\n";
  std::cout << "speedup=" << median(ratios) << " (median of " << ratios.size()
            << " alternated pairs)\n";
  return 0;
}

}  // namespace
}  // namespace condense

int main(int argc, char** argv) {
  try {
    return condense::main_impl(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
