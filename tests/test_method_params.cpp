// Parameters a method adds to the model: created on the stage and tensor-parallel
// slice that holds them, optimized and checkpointed like the model's own, and
// checkpoints that leave a frozen base out by reference (path + SHA-256).
#include <gtest/gtest.h>

#include "core/checkpoint.h"
#include "core/h5.h"
#include "core/sha256.h"
#include "model_test_util.h"
#include "tests/cli_test_util.h"

namespace condense {
namespace {

using testing::error_of;
using testing::lm_loss;
using testing::randn;
using testing::random_ids;
using testing::small_config;
using testing::TempDir;

// Tensor parallelism's communication, never called by the tests that only build shards.
class NoComm final : public TensorParallelHooks {
  Var copy_to_tp_region(Tape&, const Var&) const override { fail("unexpected"); }
  Var reduce_from_tp_region(Tape&, const Var&) const override { fail("unexpected"); }
  Var vocab_parallel_embedding(Tape&, const Var&, const Tensor&, int64_t) const override {
    fail("unexpected");
  }
};

ParamSpec spec(const std::string& name, Shape shape, int tp_dim, int64_t layer,
               bool trainable = true) {
  ParamSpec s;
  s.name = name;
  s.value = randn(shape, 5);
  s.tp_dim = tp_dim;
  s.layer = layer;
  s.trainable = trainable;
  return s;
}

TEST(MethodParams, WholeModelHoldsTheFullValue) {
  Llama model(small_config(), 1);
  const ParamSpec s = spec("ccm.comp_embed.weight", {3, 16}, -1, ParamSpec::kFirstStage, false);
  model.add_param(s);
  const Param* p = model.find_param(s.name);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->var.value().to_vector(), s.value.to_vector());
  EXPECT_FALSE(p->trainable);
  EXPECT_FALSE(p->var.requires_grad());
  EXPECT_EQ(p->tp_dim, -1);
}

TEST(MethodParams, ShardHoldsItsStageAndSlice) {
  NoComm comm;
  ModelShard shard;
  shard.tp_rank = 1;
  shard.tp_size = 2;
  shard.layer_begin = 1;
  shard.tp = &comm;
  Llama model(small_config(2), 1, Device::cpu, shard);  // layers [1,2) of 2, tp rank 1 of 2
  const ParamSpec first = spec("m.first", {4, 16}, 0, ParamSpec::kFirstStage);
  const ParamSpec last = spec("m.last", {4, 6}, 1, ParamSpec::kLastStage);
  const ParamSpec layer0 = spec("m.layer0", {4}, -1, 0);
  const ParamSpec layer1 = spec("m.layer1", {4}, 0, 1);
  for (const ParamSpec* s : {&first, &last, &layer0, &layer1}) model.add_param(*s);
  EXPECT_EQ(model.find_param("m.first"), nullptr);
  EXPECT_EQ(model.find_param("m.layer0"), nullptr);
  ASSERT_NE(model.find_param("m.last"), nullptr);
  ASSERT_NE(model.find_param("m.layer1"), nullptr);
  EXPECT_EQ(model.find_param("m.last")->var.value().to_vector(),
            shard_tensor(last.value, 1, 1, 2).to_vector());
  EXPECT_EQ(model.find_param("m.layer1")->var.value().to_vector(),
            shard_tensor(layer1.value, 0, 1, 2).to_vector());
  EXPECT_EQ(model.find_param("m.last")->tp_dim, 1);
  // A clash with a parameter of another stage is found on this one too.
  EXPECT_NE(error_of([&] {
              model.add_param(spec("model.embed_tokens.weight", {2}, -1, -1));
            }).find("model.embed_tokens.weight exists already"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              model.add_param(spec("m.layer0", {2}, -1, 1));
            }).find("m.layer0 exists already"),
            std::string::npos);
  // Indivisible shapes are refused on every rank, whether or not it holds the tensor.
  EXPECT_NE(error_of([&] {
              model.add_param(spec("m.odd", {3, 16}, 0, 0));
            }).find("parameter m.odd [3,16] cannot be split along dimension 0 over 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.add_param(spec("m.bad_dim", {4}, 1, 1)); }).find("m.bad_dim"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              model.add_param(spec("m.bad_layer", {4}, -1, 2));
            }).find("layer 2 is not one of the 2 layers"),
            std::string::npos);
}

// Train a model with a trainable method parameter on a frozen base for a few steps.
struct Trained {
  std::unique_ptr<Llama> model;
  std::unique_ptr<AdamW> opt;
};
Trained train_on_frozen_base(const std::string& base_path, int steps) {
  Trained t;
  t.model = std::make_unique<Llama>(small_config(), 1);
  if (!base_path.empty()) load_checkpoint(base_path, *t.model, nullptr);
  for (Param& p : t.model->params()) t.model->set_trainable(p.name, false);
  t.model->set_trainable("model.norm.weight", true);
  // The method's parameter stands in for soft-prompt rows fed through embed_values.
  t.model->add_param(spec("m.prompt.weight", {2, 16}, -1, ParamSpec::kFirstStage));
  t.opt = std::make_unique<AdamW>(t.model->params(), AdamWConfig{});
  for (int s = 0; s < steps; ++s) {
    Tape tape;
    ForwardArgs a = ForwardArgs::tokens(random_ids(2, 5, 48, s));
    a.embed_rows = Tensor::from_i32({0, 5}, {2});
    a.embed_values = t.model->param("m.prompt.weight").var;
    tape.backward(lm_loss(tape, *t.model, a));
    t.opt->step();
    t.opt->zero_grad();
  }
  return t;
}

TEST(MethodParams, CheckpointRoundTripWithMomentsOfTrainableOnly) {
  TempDir dir;
  Trained t = train_on_frozen_base("", 3);
  CheckpointMeta meta;
  meta.step = 3;
  save_checkpoint(dir.file("ck.h5"), *t.model, t.opt.get(), meta);
  {
    h5::File f(dir.file("ck.h5"), h5::File::Mode::read);
    EXPECT_TRUE(f.exists("/m.prompt.weight"));
    EXPECT_TRUE(f.exists("/optimizer/m.prompt.weight/m"));
    EXPECT_TRUE(f.exists("/optimizer/model.norm.weight/v"));
    EXPECT_FALSE(f.exists("/optimizer/lm_head.weight"));
    EXPECT_TRUE(f.exists("/lm_head.weight"));  // no base given: everything is saved
  }
  Trained back = train_on_frozen_base("", 0);
  EXPECT_NE(back.model->param("m.prompt.weight").var.value().to_vector(),
            t.model->param("m.prompt.weight").var.value().to_vector());
  EXPECT_EQ(load_checkpoint(dir.file("ck.h5"), *back.model, back.opt.get()).step, 3);
  for (const Param& p : t.model->params())
    EXPECT_EQ(back.model->param(p.name).var.value().to_vector(), p.var.value().to_vector())
        << p.name;
  for (const auto& [name, s] : t.opt->state()) {
    EXPECT_EQ(back.opt->state().at(name).m.to_vector(), s.m.to_vector()) << name;
    EXPECT_EQ(back.opt->state().at(name).v.to_vector(), s.v.to_vector()) << name;
  }
  EXPECT_EQ(back.opt->steps_done(), 3);
}

TEST(MethodParams, FrozenBaseByReference) {
  TempDir dir;
  const std::string base = dir.file("base.h5"), ck = dir.file("ck.h5");
  Llama pretrained(small_config(), 42);
  save_checkpoint(base, pretrained, nullptr, {});
  Trained t = train_on_frozen_base(base, 3);
  CheckpointMeta meta;
  meta.base_checkpoint = base;
  save_checkpoint(ck, *t.model, t.opt.get(), meta);
  {
    h5::File f(ck, h5::File::Mode::read);
    EXPECT_FALSE(f.exists("/lm_head.weight"));
    EXPECT_FALSE(f.exists("/model.layers.0.self_attn.q_proj.weight"));
    EXPECT_TRUE(f.exists("/model.norm.weight"));
    EXPECT_TRUE(f.exists("/m.prompt.weight"));
    EXPECT_EQ(f.attr_string("/meta", "base_sha256"), sha256_file(base));
  }
  // Every tensor, the base's included; then a load equal to the trained model.
  const CheckpointContents c = read_checkpoint(ck, true);
  EXPECT_EQ(c.params.size(), t.model->params().size());
  EXPECT_EQ(c.meta.base_checkpoint, base);
  EXPECT_EQ(c.optimizer.size(), 2u);
  Trained back = train_on_frozen_base("", 0);
  EXPECT_EQ(load_checkpoint(ck, *back.model, back.opt.get()).base_checkpoint, base);
  for (const Param& p : t.model->params())
    EXPECT_EQ(back.model->param(p.name).var.value().to_vector(), p.var.value().to_vector())
        << p.name;
  // A frozen parameter that is not the base's own cannot be left to the base.
  Trained other = train_on_frozen_base("", 0);
  const std::string err =
      error_of([&] { save_checkpoint(dir.file("x.h5"), *other.model, nullptr, meta); });
  EXPECT_NE(err.find("frozen parameter model.embed_tokens.weight is not the one in the base"),
            std::string::npos)
      << err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.h5")));
  // The base changed after the checkpoint was saved: one line naming both files.
  save_checkpoint(base, Llama(small_config(), 43), nullptr, {});
  const std::string wrong = error_of([&] { load_checkpoint(ck, *back.model, nullptr); });
  EXPECT_NE(wrong.find(ck + ": its frozen base " + base + " has SHA-256 "), std::string::npos)
      << wrong;
  EXPECT_EQ(wrong.find('\n'), std::string::npos);
  std::filesystem::remove(base);
  EXPECT_NE(error_of([&] { read_checkpoint(ck, false); }).find(base + " does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace condense
