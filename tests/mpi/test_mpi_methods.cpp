// What the compression methods need from the parallel engine, on a layout (from
// the command line, as test_mpi_equivalence) against one rank computed in-process
// on world rank 0: frozen parameters stay bit-identical and leave the gradient
// norm equal to one rank's; masked LoRA on a frozen base trains as at one rank;
// method-owned parameters (a tensor-parallel-split table on the first stage, a
// replicated gain on the last) and a frozen base go through a checkpoint that
// another layout loads and a resumed run continues exactly; a step written as a
// pass graph (two segments, the second reading the first's hidden states, one of
// them detached) equals one rank on every layout, pipelines included.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/checkpoint.h"
#include "core/h5.h"
#include "core/ops.h"
#include "parallel/trainer.h"
#include "tests/mpi/mpi_test_util.h"

namespace condense::testing {
namespace {

constexpr double kTolerance = 1e-5;
constexpr int64_t kRows = 4, kT = 8;
constexpr uint64_t kSeed = 7;

LlamaConfig model_config() {
  LlamaConfig c = small_model_config();
  c.tie_embeddings = layout().tied;
  return c;
}

// As test_mpi_equivalence: a small clip makes the global norm matter.
AdamWConfig optim_config(float lr = 1e-3f) {
  return adamw_config(/*grad_clip=*/0.5f, lr);
}

parallel::ParallelOptions options() {
  parallel::ParallelOptions o;
  o.micro_batches = layout().micro_batches;
  o.zero1 = layout().zero1;
  o.bucket_bytes = 4096;
  o.timeout_s = 60;
  return o;
}

Values values_of(const Llama& m) {
  Values out;
  for (const Param& p : m.params()) out[p.name] = p.var.value().to_vector();
  return out;
}

// Every tensor of `got` within kTolerance of `want`, and the same names.
void expect_all_close(const Values& got, const Values& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  expect_close(got, want, kTolerance, what);
}

// --- Frozen parameters -----------------------------------------------------

const std::vector<std::string>& frozen_names() {
  static const std::vector<std::string> names{
      "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
      "model.layers.1.input_layernorm.weight", "model.layers.1.mlp.down_proj.weight"};
  return names;
}

void freeze_some(Llama& m) {
  for (const std::string& name : frozen_names())
    if (m.find_param(name)) m.set_trainable(name, false);
}

TEST(Frozen, BitIdenticalAfter20StepsAndNormEqualsOneRank) {
  parallel::ProcessGrid grid(layout().tp, layout().pp);
  parallel::ParallelTrainer trainer(grid, model_config(), kSeed, optim_config(), options(),
                                    Device::cpu, freeze_some);
  std::unique_ptr<Llama> single;
  std::unique_ptr<AdamW> single_opt;
  Values initial;
  if (grid.rank() == 0) {
    single = std::make_unique<Llama>(model_config(), kSeed);
    freeze_some(*single);
    single_opt = std::make_unique<AdamW>(single->params(), optim_config());
    initial = values_of(*single);
  }
  for (int step = 1; step <= 20; ++step) {
    const data::TokenBatch global = random_batch(kRows, kT, model_config().vocab_size, step);
    const double loss = trainer.forward_backward({share(grid, global)});
    // No rank computes a gradient for a frozen parameter.
    for (const Param& p : trainer.model().params())
      if (!p.trainable) {
        EXPECT_FALSE(p.var.grad().defined()) << p.name;
      }
    const float norm = trainer.optimizer_step();
    trainer.zero_grad();
    if (!single) continue;
    const double ref_loss = single_forward_backward(*single, global);
    const float ref_norm = single_opt->step();
    single_opt->zero_grad();
    EXPECT_NEAR(loss, ref_loss, kTolerance * ref_loss) << "step " << step;
    EXPECT_NEAR(norm, ref_norm, kTolerance * ref_norm) << "step " << step;
  }
  const Values after = as_map(trainer.gather(parallel::Gathered::value));
  if (!single) return;
  for (const std::string& name : frozen_names())
    EXPECT_EQ(after.at(name), initial.at(name)) << name << " changed";
  // The rest trained.
  EXPECT_NE(after.at("model.norm.weight"), initial.at("model.norm.weight"));
}

// --- LoRA with a token mask on a frozen base -------------------------------

void lora_on_frozen_base(Llama& m) {
  std::vector<std::string> base;
  for (const Param& p : m.params()) base.push_back(p.name);
  for (const std::string& name : base) m.set_trainable(name, false);
  LoraSpec lora;
  lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj"};
  lora.rank = 4;
  lora.alpha = 8;
  m.add_lora(lora);
}

// A random batch with LoRA on every other token, shifted by row.
data::TokenBatch masked_batch(uint64_t seed) {
  data::TokenBatch b = random_batch(kRows, kT, model_config().vocab_size, seed);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t t = 0; t < kT; ++t) b.lora_mask.push_back(static_cast<uint8_t>((r + t) % 2));
  return b;
}

TEST(Lora, MaskedLoraOnFrozenBaseEqualsOneRank) {
  parallel::ProcessGrid grid(layout().tp, layout().pp);
  parallel::ParallelTrainer trainer(grid, model_config(), kSeed, optim_config(), options(),
                                    Device::cpu, lora_on_frozen_base);
  std::unique_ptr<Llama> single;
  std::unique_ptr<AdamW> single_opt;
  Values base;
  if (grid.rank() == 0) {
    single = std::make_unique<Llama>(model_config(), kSeed);
    lora_on_frozen_base(*single);
    single_opt = std::make_unique<AdamW>(single->params(), optim_config());
    base = values_of(*single);
  }
  for (int step = 1; step <= 5; ++step) {
    const data::TokenBatch global = masked_batch(10 + step);
    const double loss = trainer.forward_backward({share(grid, global)});
    const Values grads = as_map(trainer.gather(parallel::Gathered::grad));
    const float norm = trainer.optimizer_step();
    trainer.zero_grad();
    if (!single) continue;
    const double ref_loss = single_forward_backward(*single, global);
    const Values ref_grads = grads_of(*single);
    const float ref_norm = single_opt->step();
    single_opt->zero_grad();
    EXPECT_NEAR(loss, ref_loss, kTolerance * ref_loss) << "step " << step;
    EXPECT_NEAR(norm, ref_norm, kTolerance * ref_norm) << "step " << step;
    // Only the LoRA pairs have gradients: 4 targets x 2 layers x (A, B).
    EXPECT_EQ(grads.size(), 16u);
    expect_all_close(grads, ref_grads, "LoRA gradients at step " + std::to_string(step));
  }
  const Values after = as_map(trainer.gather(parallel::Gathered::value));
  if (!single) return;
  expect_all_close(after, values_of(*single), "values after 5 steps");
  for (const auto& [name, v] : after)
    if (name.find("lora_") == std::string::npos) {
      EXPECT_EQ(v, base.at(name)) << name << " (frozen base) changed";
    } else if (name.find("lora_B") != std::string::npos) {
      EXPECT_NE(v, base.at(name)) << name << " did not train";
    }
}

// --- Method-owned parameters and a frozen base through checkpoints ---------

constexpr int64_t kExtraRows = 8;

Tensor counting(const Shape& shape, float scale) {
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(i % 13) - 0.3f;
  return Tensor::from_f32(v, shape);
}

// A table split by tensor parallelism on the first stage, a replicated gain on the
// last, LoRA on q and v, and a frozen embedding (left to the base checkpoint).
void method_params(Llama& m) {
  ParamSpec table;
  table.name = "test.extra_embed.weight";
  table.value = counting({kExtraRows, model_config().dim}, 0.01f);
  table.tp_dim = 0;
  table.layer = ParamSpec::kFirstStage;
  m.add_param(table);
  ParamSpec gain;
  gain.name = "test.head_gain.weight";
  gain.value = counting({model_config().dim}, 0.05f);
  gain.layer = ParamSpec::kLastStage;
  m.add_param(gain);
  LoraSpec lora;
  lora.targets = {"q_proj", "v_proj"};
  lora.rank = 2;
  m.add_lora(lora);
  if (m.find_param("model.embed_tokens.weight"))
    m.set_trainable("model.embed_tokens.weight", false);
}

// A scratch directory named by world rank 0, the same on every rank.
std::string shared_scratch(const std::string& tag) {
  std::string dir;
  if (world_rank() == 0) {
    dir = (std::filesystem::temp_directory_path() /
           ("condense_mpi_methods_" + tag + "_" + std::to_string(getpid())))
              .string();
    std::filesystem::create_directories(dir);
  }
  int n = static_cast<int>(dir.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
  dir.resize(static_cast<size_t>(n));
  MPI_Bcast(dir.data(), n, MPI_CHAR, 0, MPI_COMM_WORLD);
  return dir;
}

void train(parallel::ParallelTrainer& t, const parallel::ProcessGrid& grid, int from, int to) {
  for (int step = from; step <= to; ++step) {
    t.forward_backward({share(grid, masked_batch(50 + step))});
    t.optimizer_step();
    t.zero_grad();
  }
}

TEST(MethodParams, CheckpointLoadsUnderAnotherLayoutAndResumesExactly) {
  const Layout& l = layout();
  const std::string dir = shared_scratch(std::to_string(l.tp) + "_" + std::to_string(l.pp));
  const std::string base = dir + "/base.h5", ckpt = dir + "/step2.h5";
  // The frozen base: the model every run starts from, untrained.
  if (world_rank() == 0) save_checkpoint(base, Llama(model_config(), kSeed), nullptr, {});
  MPI_Barrier(MPI_COMM_WORLD);

  parallel::ProcessGrid grid(l.tp, l.pp);
  parallel::ParallelTrainer a(grid, model_config(), kSeed, optim_config(), options(), Device::cpu,
                              method_params);
  train(a, grid, 1, 2);
  CheckpointMeta meta;
  meta.step = 2;
  meta.base_checkpoint = base;
  a.save_checkpoint(ckpt, meta);
  const Values at2 = as_map(a.gather(parallel::Gathered::value));
  train(a, grid, 3, 4);
  const Values uninterrupted = as_map(a.gather(parallel::Gathered::value));

  // The same layout from another seed, resumed: exactly the uninterrupted run.
  parallel::ParallelTrainer b(grid, model_config(), kSeed + 1, optim_config(), options(),
                              Device::cpu, method_params);
  EXPECT_EQ(b.load_checkpoint(ckpt, true).step, 2);
  EXPECT_EQ(b.steps_done(), 2);
  train(b, grid, 3, 4);
  const Values resumed = as_map(b.gather(parallel::Gathered::value));
  if (world_rank() == 0) {
    ASSERT_EQ(resumed.size(), uninterrupted.size());
    for (const auto& [name, v] : uninterrupted) EXPECT_EQ(resumed.at(name), v) << name;
    EXPECT_NE(at2.at("model.layers.1.self_attn.v_proj.lora_B.weight"),
              uninterrupted.at("model.layers.1.self_attn.v_proj.lora_B.weight"));
  }

  // Another layout: every value as saved, then the same run to float rounding.
  parallel::ProcessGrid other(l.tp == 1 && l.pp == 1 ? 2 : 1, 1);
  parallel::ParallelTrainer c(other, model_config(), kSeed + 2, optim_config(), options(),
                              Device::cpu, method_params);
  c.load_checkpoint(ckpt, true);
  const Values loaded = as_map(c.gather(parallel::Gathered::value));
  train(c, other, 3, 4);
  const Values continued = as_map(c.gather(parallel::Gathered::value));
  if (world_rank() == 0) {
    // The frozen embedding is left to the base; the method's parameters are there.
    const h5::File file(ckpt, h5::File::Mode::read);
    EXPECT_FALSE(file.exists("/model.embed_tokens.weight"));
    EXPECT_TRUE(file.exists("/test.extra_embed.weight"));
    EXPECT_TRUE(file.exists("/test.head_gain.weight"));
    ASSERT_EQ(loaded.size(), at2.size());
    for (const auto& [name, v] : at2) EXPECT_EQ(loaded.at(name), v) << name;
    expect_all_close(continued, uninterrupted, "steps 3-4 on another layout");
    // One rank reads the same checkpoint: method parameters, frozen base and all.
    Llama single(model_config(), kSeed + 3);
    method_params(single);
    load_checkpoint(ckpt, single, nullptr);
    for (const auto& [name, v] : at2) EXPECT_EQ(single.param(name).var.value().to_vector(), v);
    std::filesystem::remove_all(dir);
  }
}

// --- K/V mixes through data-parallel shares and micro-batches ---------------

// In every row, token 5's keys and values become the mean of tokens 2 and 3's
// (CCM-merge's running mean) and token 7's those of token 1, on a row-dependent
// subset of rows, so that shares and micro-batches cut through the terms.
data::TokenBatch mixed_batch(uint64_t seed) {
  data::TokenBatch b = random_batch(kRows, kT, model_config().vocab_size, seed);
  for (int64_t r = 0; r < kRows; ++r) {
    b.kv_mix.push_back({r, 5, 2, 0.5f});
    b.kv_mix.push_back({r, 5, 3, 0.5f});
    if (r % 2 == 1) b.kv_mix.push_back({r, 7, 1, 1.0f});
  }
  return b;
}

// Every parameter trains here, the gradients of this small batch are small, and
// Adam turns their rounding differences into update differences of about lr/eps:
// a smaller step keeps the runs within the tolerance over the steps.
constexpr float kMixLr = 1e-4f;

TEST(KVMix, MixedKeysEqualOneRank) {
  parallel::ProcessGrid grid(layout().tp, layout().pp);
  parallel::ParallelTrainer trainer(grid, model_config(), kSeed, optim_config(kMixLr), options());
  std::unique_ptr<Llama> single;
  std::unique_ptr<AdamW> single_opt;
  if (grid.rank() == 0) {
    single = std::make_unique<Llama>(model_config(), kSeed);
    single_opt = std::make_unique<AdamW>(single->params(), optim_config(kMixLr));
  }
  for (int step = 1; step <= 3; ++step) {
    const data::TokenBatch global = mixed_batch(70 + step);
    const double loss = trainer.forward_backward({share(grid, global)});
    const Values grads = as_map(trainer.gather(parallel::Gathered::grad));
    trainer.optimizer_step();
    trainer.zero_grad();
    if (!single) continue;
    const double ref_loss = single_forward_backward(*single, global);
    expect_all_close(grads, grads_of(*single), "gradients at step " + std::to_string(step));
    EXPECT_NEAR(loss, ref_loss, kTolerance * ref_loss) << "step " << step;
    // The mix matters: without it the loss is further off than the tolerance.
    data::TokenBatch plain = global;
    plain.kv_mix.clear();
    Tape no_grad(false);
    const data::BatchTensors t = data::to_tensors(plain, Device::cpu);
    const double unmixed = ops::cross_entropy(no_grad, single->forward(no_grad, t.args), t.targets)
                               .value()
                               .to_vector()[0];
    EXPECT_GT(std::abs(unmixed - ref_loss), 3 * kTolerance * ref_loss) << "step " << step;
    single_opt->step();
    single_opt->zero_grad();
  }
}

// --- A pass graph ------------------------------------------------------------

constexpr int64_t kSegment = kT / 2;

// Two segments of each row, in `chains` groups of rows (segment 1 of every group, then
// segment 2): the first segment starts with a row of the method's table (a
// replicated parameter of the first stage) in place of its first token and exports its last two
// hidden states; the second takes them as its first two inputs, one detached (a
// gradient stops there), the other not.
parallel::PassGraph two_segments(const data::TokenBatch& rows, int chains) {
  parallel::PassGraph graph;
  std::vector<data::TokenBatch> groups;
  for (int c = 0; c < chains; ++c)
    groups.push_back(rows_of(rows, rows.rows * c / chains, rows.rows * (c + 1) / chains));
  for (int64_t half = 0; half < 2; ++half)
    for (int c = 0; c < chains; ++c) {
      const data::TokenBatch& g = groups[c];
      const int64_t b = g.rows;
      std::vector<int32_t> ids, targets, first_pos, table_ids, ends, second_first, second_next;
      for (int64_t r = 0; r < b; ++r) {
        for (int64_t t = half * kSegment; t < (half + 1) * kSegment; ++t) {
          ids.push_back(g.inputs[r * kT + t]);
          targets.push_back(g.targets[r * kT + t]);
        }
        first_pos.push_back(static_cast<int32_t>(r * kSegment));
        table_ids.push_back(g.inputs[r * kT] % static_cast<int32_t>(kExtraRows));
        ends.push_back(static_cast<int32_t>(r * kSegment + kSegment - 1));
        ends.push_back(static_cast<int32_t>(r * kSegment + kSegment - 2));
        second_first.push_back(static_cast<int32_t>(r * kSegment));
        second_next.push_back(static_cast<int32_t>(r * kSegment + 1));
      }
      parallel::GraphPass pass;
      pass.args = ForwardArgs::tokens(Tensor::from_i32(ids, {b, kSegment}));
      pass.targets = Tensor::from_i32(targets, {b, kSegment});
      if (half == 0) {
        pass.args.table_inputs = {"test.extra_embed.weight", Tensor::from_i32(first_pos, {b}),
                                  Tensor::from_i32(table_ids, {b})};
        pass.exports = ends;  // export 2r: row r's last state, 2r + 1: the one before
      } else {
        parallel::PassInput last, before_last;
        last.from = before_last.from = c;
        last.detach = true;
        for (int64_t r = 0; r < b; ++r) {
          last.exported.push_back(static_cast<int32_t>(2 * r));
          before_last.exported.push_back(static_cast<int32_t>(2 * r + 1));
        }
        last.rows = second_first;
        before_last.rows = second_next;
        pass.inputs = {last, before_last};
      }
      graph.push_back(std::move(pass));
    }
  return graph;
}

void table_only(Llama& m) {
  ParamSpec table;
  table.name = "test.extra_embed.weight";
  table.value = counting({kExtraRows, model_config().dim}, 0.01f);
  m.add_param(table);
  if (m.find_param("model.layers.0.mlp.up_proj.weight"))
    m.set_trainable("model.layers.0.mlp.up_proj.weight", false);
}

TEST(PassGraph, TwoSegmentsWithADetachEqualOneRank) {
  parallel::ProcessGrid grid(layout().tp, layout().pp);
  parallel::ParallelTrainer trainer(grid, model_config(), kSeed, optim_config(), options(),
                                    Device::cpu, table_only);
  std::unique_ptr<Llama> single;
  std::unique_ptr<AdamW> single_opt;
  if (grid.rank() == 0) {
    single = std::make_unique<Llama>(model_config(), kSeed);
    table_only(*single);
    single_opt = std::make_unique<AdamW>(single->params(), optim_config());
  }
  for (int step = 1; step <= 3; ++step) {
    const data::TokenBatch b = random_batch(kRows, kT, model_config().vocab_size, 30 + step);
    const parallel::PassGraph mine = two_segments(share(grid, b), layout().micro_batches);
    const double loss = trainer.forward_backward_graph("two-segment", mine);
    const Values grads = as_map(trainer.gather(parallel::Gathered::grad));
    const float norm = trainer.optimizer_step();
    trainer.zero_grad();
    if (!single) continue;
    Tape tape;
    parallel::PassContext ctx(*single, tape, nullptr);
    const parallel::PassGraph all = two_segments(b, 1);
    parallel::sequential_step(all)(ctx);
    const double ref_loss =
        parallel::backward_mean(ctx, static_cast<double>(ctx.total().targets), "two-segment");
    const Values ref_grads = grads_of(*single);
    const float ref_norm = single_opt->step();
    single_opt->zero_grad();
    EXPECT_NEAR(loss, ref_loss, kTolerance * ref_loss) << "step " << step;
    EXPECT_NEAR(norm, ref_norm, kTolerance * ref_norm) << "step " << step;
    expect_all_close(grads, ref_grads, "gradients at step " + std::to_string(step));
    // The table's rows were looked up, so they have a gradient.
    double table_grad = 0;
    for (float g : ref_grads.at("test.extra_embed.weight")) table_grad += std::abs(g);
    EXPECT_GT(table_grad, 0);
  }
  if (grid.pp_size() > 1) {
    // On the pipeline, the first stage read the second segments' inputs from the last.
    int forwards = 0;
    for (const parallel::TraceEvent& e : trainer.trace())
      forwards += e.pass == parallel::Pass::forward;
    EXPECT_EQ(forwards, 2 * layout().micro_batches);
  }
}

}  // namespace
}  // namespace condense::testing
