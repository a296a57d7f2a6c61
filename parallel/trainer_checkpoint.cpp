// Layout-independent checkpoints for ParallelTrainer: shards are gathered to
// full logical tensors on world rank 0, which writes them with core's
// save_checkpoint; loading reads the whole checkpoint on every rank and keeps
// the rank's slice. Whole tensors pass through one rank (rank 0 holds a full
// copy of model and moments while saving, every rank while loading): simple and
// fine for the models this testbed trains on a node.
#include <map>

#include "core/backend.h"
#include "parallel/trainer.h"

namespace condense::parallel {
namespace {

constexpr int kTransferTag = 1;
constexpr int kMaxDims = 8;

// This rank's block of a full tensor, or the tensor itself when it is replicated.
Tensor slice_for(const Tensor& full, int tp_dim, int tp_rank, int tp_size) {
  return tp_dim < 0 ? full : shard_tensor(full, tp_dim, tp_rank, tp_size);
}

// A named host tensor sent as three messages: header (name length, rank, dims),
// name bytes, data.
void send_named(Communicator& c, const std::string& name, const Tensor& t, int peer) {
  if (t.ndim() > kMaxDims)
    fail("checkpoint transfer: ", name, " has more than ", kMaxDims, " dims");
  std::vector<int32_t> header(2 + kMaxDims, 0);
  header[0] = static_cast<int32_t>(name.size());
  header[1] = t.ndim();
  for (int d = 0; d < t.ndim(); ++d) header[2 + d] = static_cast<int32_t>(t.dim(d));
  c.send(Tensor::from_i32(header, {2 + kMaxDims}), peer, kTransferTag);
  c.send(Tensor::from_u8(std::vector<uint8_t>(name.begin(), name.end()),
                         {static_cast<int64_t>(name.size())}),
         peer, kTransferTag);
  c.send(t, peer, kTransferTag);
}

std::pair<std::string, Tensor> recv_named(Communicator& c, int peer) {
  Tensor header = Tensor::empty({2 + kMaxDims}, DType::i32);
  c.recv(header, peer, kTransferTag);
  const std::vector<int32_t> h = header.to_i32_vector();
  Tensor name = Tensor::empty({h[0]}, DType::u8);
  c.recv(name, peer, kTransferTag);
  Shape shape(h.begin() + 2, h.begin() + 2 + h[1]);
  Tensor t = Tensor::empty(shape, DType::f32);
  c.recv(t, peer, kTransferTag);
  const uint8_t* bytes = name.u8();
  return {std::string(bytes, bytes + h[0]), t};
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> ParallelTrainer::gather(Gathered what) {
  const std::vector<Param>& params = model_->params();
  // Each stage's full tensors, assembled on its (tp 0, dp 0) rank.
  std::vector<std::pair<std::string, Tensor>> stage_full;
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    // A frozen parameter has no gradient and no moments.
    if (is_mirror(p) || (what != Gathered::value && !p.trainable)) continue;
    // Values are equal on every data-parallel rank; with ZeRO-1 gradients and
    // moments are complete only on the owner.
    const int source = sync_->zero1() && what != Gathered::value ? sync_->owner(i) : 0;
    Tensor t;
    if (grid_.dp_rank() == source) {
      switch (what) {
        case Gathered::value:
          t = p.var.value();
          break;
        case Gathered::grad:
          t = p.var.grad().defined() ? p.var.grad()
                                     : Tensor::zeros(p.var.shape(), DType::f32, device_);
          break;
        case Gathered::adam_m:
          t = optimizer_->state().at(p.name).m;
          break;
        case Gathered::adam_v:
          t = optimizer_->state().at(p.name).v;
          break;
      }
    }
    if (source != 0) {
      if (grid_.dp_rank() == source) {
        dp_->send(t, 0, kTransferTag);
        dp_->wait_sends();
      } else if (grid_.dp_rank() == 0) {
        t = Tensor::empty(p.var.shape(), DType::f32, device_);
        dp_->recv(t, source, kTransferTag);
      }
    }
    if (grid_.dp_rank() != 0) continue;
    const Tensor full = p.tp_dim < 0 ? t : all_gather_shards(t, p.tp_dim, *tp_);
    if (grid_.tp_rank() == 0) stage_full.emplace_back(p.name, full.to(Device::cpu));
  }
  if (grid_.dp_rank() != 0 || grid_.tp_rank() != 0) return {};
  // Later stages send theirs to world rank 0, which is (tp 0, dp 0) of stage 0.
  if (grid_.pp_rank() != 0) {
    std::vector<int32_t> n{static_cast<int32_t>(stage_full.size())};
    transfer_->send(Tensor::from_i32(n, {1}), 0, kTransferTag);
    for (const auto& [name, t] : stage_full) send_named(*transfer_, name, t, 0);
    transfer_->wait_sends();
    return {};
  }
  std::vector<std::pair<std::string, Tensor>> all = std::move(stage_full);
  for (int s = 1; s < grid_.pp_size(); ++s) {
    Tensor n = Tensor::empty({1}, DType::i32);
    transfer_->recv(n, s, kTransferTag);
    for (int32_t k = 0; k < n.i32()[0]; ++k) all.push_back(recv_named(*transfer_, s));
  }
  return all;
}

std::unique_ptr<Llama> ParallelTrainer::gather_model() {
  const auto values = gather(Gathered::value);
  if (grid_.rank() != 0) return nullptr;
  std::unique_ptr<Llama> full = whole_model();
  for (const auto& [name, t] : values) {
    Param* p = full->find_param(name);
    if (!p)
      fail("parallel: the shards have ", name, ", the whole model does not (the model extension ",
           "must add the same parameters to every model)");
    p->var.set_value(t);
  }
  return full;
}

void ParallelTrainer::save_checkpoint(const std::string& path, const CheckpointMeta& meta) {
  const std::unique_ptr<Llama> full = gather_model();
  const auto m = gather(Gathered::adam_m);
  const auto v = gather(Gathered::adam_v);
  if (full) {
    AdamW full_optimizer(full->params(), optim_config_);
    for (const auto& [name, t] : m) full_optimizer.state().at(name).m = t;
    for (const auto& [name, t] : v) full_optimizer.state().at(name).v = t;
    full_optimizer.set_steps_done(optimizer_->steps_done());
    condense::save_checkpoint(path, *full, &full_optimizer, meta);
  }
  // Rank 0 may have failed (and aborted the job); the others wait to hear it is done.
  world_->all_reduce_host(0.0, ReduceOp::sum);
}

void ParallelTrainer::set_weights(const Llama& full) {
  if (!(full.config() == config_)) fail("parallel: set_weights from a model of another config");
  std::map<std::string, const Param*> by_name;
  for (const Param& p : full.params()) by_name[p.name] = &p;
  const int r = grid_.tp_rank(), n = grid_.tp_size();
  for (Param& p : model_->params()) {
    const auto it = by_name.find(p.name);
    if (it == by_name.end()) continue;
    Tensor mine = slice_for(it->second->var.value(), p.tp_dim, r, n);
    if (mine.shape() != p.var.shape())
      fail("parallel: set_weights: ", p.name, " is ", shape_str(it->second->var.shape()),
           " in the given model, which does not split to this shard's ", shape_str(p.var.shape()));
    p.var.set_value(mine.to(device_));
    p.var.zero_grad();
  }
}

CheckpointMeta ParallelTrainer::load_checkpoint(const std::string& path, bool with_optimizer) {
  // Whole tensors, the frozen ones a checkpoint left to its base read from there.
  const CheckpointContents c = read_checkpoint(path, with_optimizer);
  if (!(c.config == config_))
    fail(path, ": the checkpoint's model config (dim ", c.config.dim, ", layers ",
         c.config.n_layers, ", vocab ", c.config.vocab_size, ") is not the configured model's");
  const int r = grid_.tp_rank(), n = grid_.tp_size();
  auto shard_of = [&](const Tensor& full, const Param& p, const char* what) {
    Tensor mine = slice_for(full, p.tp_dim, r, n);
    if (mine.shape() != p.var.shape())
      fail(path, ": ", what, p.name, " is ", shape_str(full.shape()),
           ", which does not split to this shard's ", shape_str(p.var.shape()));
    return mine.to(device_);
  };
  for (Param& p : model_->params()) {
    const auto it = c.params.find(p.name);
    if (it == c.params.end()) fail(path, ": no parameter ", p.name);
    p.var.set_value(shard_of(it->second, p, ""));
    p.var.zero_grad();
  }
  if (with_optimizer) {
    for (auto& [name, s] : optimizer_->state()) {
      const auto it = c.optimizer.find(name);
      if (it == c.optimizer.end())
        fail(path, ": no optimizer state for ", name, " (saved without optimizer, or frozen?)");
      const Param& p = model_->param(name);
      s.m = shard_of(it->second.m, p, "the moment m of ");
      s.v = shard_of(it->second.v, p, "the moment v of ");
    }
    optimizer_->set_steps_done(c.optimizer_step);
  }
  return c.meta;
}

}  // namespace condense::parallel
