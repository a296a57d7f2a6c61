// CCM (issue 12, done-when 3) on a layout from the command line against one rank
// computed in-process on world rank 0: five steps of the engine's plain step over
// CCM one-pass batches (block masks, skip positions, the conditional-LoRA mask, the
// merge K/V mix, <COMP>/<SUM> embeddings from the method's table, which the first
// stage embeds) give the loss, the LoRA and table gradients and the weights of one
// rank, for concat_recur and merge_recur; a checkpoint written at this layout
// resumes at another layout and at one rank with the losses of the uninterrupted run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "core/checkpoint.h"
#include "core/ops.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/batch.h"
#include "experiments/methods/ccm/layout.h"
#include "parallel/trainer.h"
#include "tests/mpi/mpi_test_util.h"

namespace condense::testing {
namespace {

constexpr double kTolerance = 1e-5;
constexpr int64_t kRows = 4;
constexpr uint64_t kSeed = 11;
constexpr int kSteps = 5;

// A learning rate small enough that Adam does not magnify float rounding past the
// tolerance over the steps, large enough that LoRA B leaves zero and matters.
const AdamWConfig kOptim = adamw_config(/*grad_clip=*/1.0f);

parallel::ParallelOptions options(int micro_batches) {
  parallel::ParallelOptions o;
  o.micro_batches = micro_batches;
  o.zero1 = layout().zero1;
  o.bucket_bytes = 4096;
  o.timeout_s = 60;
  return o;
}

ccm::Layout ccm_layout(ccm::Attn attn) {
  ccm::Layout l;
  l.attn = attn;
  l.n_tok = 2;
  l.bos = 1;
  l.eos = 2;
  l.sep = {3};
  return l;
}

// The method's extension of every shard: its table (initialised from the base
// embedding, §2.1) and the conditional LoRA on q, k, v, o over a frozen base.
parallel::ModelExtension ccm_extension(const ccm::Layout& l) {
  const Tensor embed =
      Llama(small_model_config(), kSeed).param("model.embed_tokens.weight").var.value();
  const Tensor table = ccm::comp_table_init(embed, ccm::table_rows(l.attn, l.n_tok));
  return [table](Llama& m) {
    ccm::AdapterOptions o;
    o.lora_r = 4;
    ccm::extend_model(m, table, o);
  };
}

// A global batch of kRows dialogues at different numbers of turns (1 to 3 contexts of
// 1 to 4 tokens, a query, a target), the same on every rank for the same seed.
data::TokenBatch dialogue_batch(const ccm::Layout& l, uint32_t seed) {
  std::mt19937 g(seed);
  auto tokens = [&](int lo, int hi) {
    std::vector<int32_t> t(static_cast<size_t>(lo + static_cast<int>(g() % (hi - lo + 1))));
    for (int32_t& id : t)
      id = static_cast<int32_t>(4 + g() % (small_model_config().vocab_size - 4));
    return t;
  };
  std::vector<ccm::Sequence> seqs;
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<std::vector<int32_t>> contexts(static_cast<size_t>(1 + (r + seed) % 3));
    for (auto& c : contexts) c = tokens(1, 4);
    const std::vector<int32_t> x = tokens(1, 2), y = tokens(2, 3);
    seqs.push_back(ccm::build_sequence(l, {contexts.begin(), contexts.end()}, x, y));
  }
  return ccm::one_pass_batch(l, seqs, 0);
}

Values trainable_values(const Llama& m) {
  Values out;
  for (const Param& p : m.params())
    if (p.trainable) out[p.name] = p.var.value().to_vector();
  return out;
}

struct Single {
  explicit Single(const parallel::ModelExtension& extend) : model(small_model_config(), kSeed) {
    extend(model);
    opt = std::make_unique<AdamW>(model.params(), kOptim);
  }
  Llama model;
  std::unique_ptr<AdamW> opt;
};

class CcmLayout : public ::testing::TestWithParam<ccm::Attn> {};

TEST_P(CcmLayout, FiveStepsEqualOneRank) {
  const ccm::Layout l = ccm_layout(GetParam());
  const parallel::ModelExtension extend = ccm_extension(l);
  parallel::ProcessGrid grid(layout().tp, layout().pp);
  parallel::ParallelTrainer trainer(grid, small_model_config(), kSeed, kOptim,
                                    options(layout().micro_batches), Device::cpu, extend);
  std::unique_ptr<Single> single;
  if (grid.rank() == 0) single = std::make_unique<Single>(extend);
  for (int step = 1; step <= kSteps; ++step) {
    const data::TokenBatch global = dialogue_batch(l, 20 + step);
    const double loss = trainer.forward_backward({share(grid, global)});
    const Values grads = as_map(trainer.gather(parallel::Gathered::grad));
    const float norm = trainer.optimizer_step();
    trainer.zero_grad();
    if (!single) continue;
    const double ref_loss = single_forward_backward(single->model, global);
    const Values ref_grads = grads_of(single->model);
    const float ref_norm = single->opt->step();
    single->opt->zero_grad();
    const std::string at = "step " + std::to_string(step);
    EXPECT_NEAR(loss, ref_loss, kTolerance * ref_loss) << at;
    EXPECT_NEAR(norm, ref_norm, kTolerance * ref_norm) << at;
    // The table and the LoRA pairs (4 targets x 2 layers x (A, B)) only: the base is frozen.
    EXPECT_EQ(grads.size(), 17u) << at;
    EXPECT_EQ(ref_grads.size(), 17u) << at;
    expect_close(grads, ref_grads, kTolerance, "gradients at " + at);
    // The table's <COMP> rows get a real gradient, so the comparison covers it.
    double comp = 0;
    for (float g : ref_grads.at(ccm::kTableName)) comp += std::abs(g);
    EXPECT_GT(comp, 1e-6) << at;
    if (ccm::uses_sum(l.attn)) {
      // The merge's K/V mix matters: without it the loss is further off than the tolerance.
      data::TokenBatch plain = global;
      plain.kv_mix.clear();
      Tape no_grad(false);
      const data::BatchTensors t = data::to_tensors(plain, Device::cpu);
      const double unmixed =
          ops::cross_entropy(no_grad, single->model.forward(no_grad, t.args), t.targets)
              .value()
              .to_vector()[0];
      EXPECT_GT(std::abs(unmixed - ref_loss), 10 * kTolerance * ref_loss) << at;
    }
  }
  const Values after = as_map(trainer.gather(parallel::Gathered::value));
  if (single)
    expect_close(after, trainable_values(single->model), kTolerance, "weights after 5 steps");
}

INSTANTIATE_TEST_SUITE_P(Ccm, CcmLayout,
                         ::testing::Values(ccm::Attn::concat_recur, ccm::Attn::merge_recur),
                         [](const auto& info) { return std::string(ccm::attn_name(info.param)); });

// A scratch directory named by world rank 0, the same on every rank.
std::string shared_scratch() {
  std::string dir;
  if (world_rank() == 0) {
    dir =
        (std::filesystem::temp_directory_path() / ("condense_mpi_ccm_" + std::to_string(getpid())))
            .string();
    std::filesystem::create_directories(dir);
  }
  int n = static_cast<int>(dir.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
  dir.resize(static_cast<size_t>(n));
  MPI_Bcast(dir.data(), n, MPI_CHAR, 0, MPI_COMM_WORLD);
  return dir;
}

// Steps [from, to] on the trainer; the loss of each.
std::vector<double> train(parallel::ParallelTrainer& t, const parallel::ProcessGrid& grid,
                          const ccm::Layout& l, int from, int to) {
  std::vector<double> losses;
  for (int step = from; step <= to; ++step) {
    losses.push_back(t.forward_backward({share(grid, dialogue_batch(l, 40 + step))}));
    t.optimizer_step();
    t.zero_grad();
  }
  return losses;
}

void expect_losses(const std::vector<double>& got, const std::vector<double>& want,
                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], kTolerance * want[i]) << what << ", step " << i + 3;
}

// Written at this layout after 2 steps, resumed for steps 3-5 at another layout (a
// pipeline where this one has none, else tensor parallelism) and at one rank.
TEST(CcmCheckpoint, WrittenAtOneLayoutResumesAtAnother) {
  const ccm::Layout l = ccm_layout(ccm::Attn::merge_recur);
  const parallel::ModelExtension extend = ccm_extension(l);
  const std::string dir = shared_scratch(), ckpt = dir + "/step2.h5";
  parallel::ProcessGrid grid(layout().tp, layout().pp);
  parallel::ParallelTrainer a(grid, small_model_config(), kSeed, kOptim,
                              options(layout().micro_batches), Device::cpu, extend);
  train(a, grid, l, 1, 2);
  CheckpointMeta meta;
  meta.step = 2;
  a.save_checkpoint(ckpt, meta);
  const std::vector<double> uninterrupted = train(a, grid, l, 3, kSteps);
  const Values final_weights = as_map(a.gather(parallel::Gathered::value));

  const bool to_pipeline = layout().pp == 1 || world_size() > 2;
  parallel::ProcessGrid other(to_pipeline ? 1 : 2, to_pipeline ? 2 : 1);
  // Another seed: every value must come from the checkpoint.
  parallel::ParallelTrainer b(other, small_model_config(), kSeed + 1, kOptim,
                              options(to_pipeline ? 2 : 1), Device::cpu, extend);
  EXPECT_EQ(b.load_checkpoint(ckpt, true).step, 2);
  const std::vector<double> resumed = train(b, other, l, 3, kSteps);
  const Values resumed_weights = as_map(b.gather(parallel::Gathered::value));
  if (world_rank() != 0) return;
  const std::string where = "resumed at tp " + std::to_string(other.tp_size()) + " pp " +
                            std::to_string(other.pp_size()) + " dp " +
                            std::to_string(other.dp_size());
  expect_losses(resumed, uninterrupted, where);
  expect_close(resumed_weights, final_weights, kTolerance, where);

  Llama single(small_model_config(), kSeed + 2);
  extend(single);
  AdamW opt(single.params(), kOptim);
  EXPECT_EQ(load_checkpoint(ckpt, single, &opt).step, 2);
  std::vector<double> one_rank;
  for (int step = 3; step <= kSteps; ++step) {
    one_rank.push_back(single_forward_backward(single, dialogue_batch(l, 40 + step)));
    opt.step();
    opt.zero_grad();
  }
  expect_losses(one_rank, uninterrupted, "resumed at one rank");
  // The resumed steps trained: the losses move.
  EXPECT_NE(uninterrupted.front(), uninterrupted.back());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace condense::testing
