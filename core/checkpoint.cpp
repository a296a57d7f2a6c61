#include "core/checkpoint.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/h5.h"
#include "core/sha256.h"

namespace condense {
namespace {

constexpr int64_t kFormatVersion = 1;

void write_config(h5::File& f, const LlamaConfig& c) {
  f.set_attr("/meta", "vocab_size", c.vocab_size);
  f.set_attr("/meta", "dim", c.dim);
  f.set_attr("/meta", "n_layers", c.n_layers);
  f.set_attr("/meta", "n_heads", c.n_heads);
  f.set_attr("/meta", "n_kv_heads", c.n_kv_heads);
  f.set_attr("/meta", "ffn_dim", c.ffn_dim);
  f.set_attr("/meta", "norm_eps", static_cast<double>(c.norm_eps));
  f.set_attr("/meta", "rope_theta", static_cast<double>(c.rope_theta));
  f.set_attr("/meta", "tie_embeddings", static_cast<int64_t>(c.tie_embeddings));
  f.set_attr("/meta", "max_seq_len", c.max_seq_len);
}

void write_tensor(h5::File& f, const std::string& name, const Tensor& t) {
  std::vector<float> host = t.to_vector();
  f.write(name, t.shape(), host.data());
}

Tensor read_tensor(const h5::File& f, const std::string& name) {
  const Shape shape = f.shape(name);
  return Tensor::from_f32(f.read_f32(name, shape), shape);
}

// Sets `t` (keeping its device) from a host tensor of the same shape.
void assign(const std::string& path, const std::string& name, const Tensor& from, Tensor& t) {
  if (from.shape() != t.shape())
    fail(path, ": tensor ", name, " is ", shape_str(from.shape()), ", the model's is ",
         shape_str(t.shape()));
  t = from.to(t.device());
}

// Throws unless the base a checkpoint refers to still hashes to what it recorded.
void check_base(const std::string& checkpoint, const std::string& base, const std::string& sha256) {
  if (!std::filesystem::exists(base))
    fail(checkpoint, ": its frozen base ", base, " does not exist");
  const std::string got = sha256_file(base);
  if (got != sha256)
    fail(checkpoint, ": its frozen base ", base, " has SHA-256 ", got,
         ", the checkpoint was saved on a base with ", sha256);
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

}  // namespace

void save_checkpoint(const std::string& path, const Llama& model, const AdamW* optimizer,
                     const CheckpointMeta& meta) {
  std::string base, base_sha;
  if (!meta.base_checkpoint.empty()) {
    base = std::filesystem::absolute(meta.base_checkpoint).lexically_normal().string();
    if (!std::filesystem::exists(base)) fail(path, ": the frozen base ", base, " does not exist");
    base_sha = sha256_file(base);
    // Leaving a frozen parameter out is right only if the base holds the same values.
    const CheckpointContents stored = read_checkpoint(base, false);
    if (!(stored.config == model.config()))
      fail(path, ": the frozen base ", base, " is a model of another config");
    for (const Param& p : model.params()) {
      if (p.trainable) continue;
      auto it = stored.params.find(p.name);
      if (it == stored.params.end() || !same_values(it->second, p.var.value()))
        fail(path, ": frozen parameter ", p.name, " is not the one in the base ", base);
    }
  }
  write_atomically(path, [&](const std::string& tmp) {
    h5::File f(tmp, h5::File::Mode::create);
    for (const Param& p : model.params())
      if (base.empty() || p.trainable) write_tensor(f, "/" + p.name, p.var.value());
    if (optimizer) {
      for (const auto& [name, s] : const_cast<AdamW*>(optimizer)->state()) {
        write_tensor(f, "/optimizer/" + name + "/m", s.m);
        write_tensor(f, "/optimizer/" + name + "/v", s.v);
      }
    }
    const int64_t zero = 0;
    f.write("/meta", {1}, &zero);  // a dataset to hang the attributes on
    f.set_attr("/meta", "format_version", kFormatVersion);
    f.set_attr("/meta", "step", meta.step);
    f.set_attr("/meta", "optimizer_step", optimizer ? optimizer->steps_done() : int64_t{0});
    f.set_attr("/meta", "tokens_seen", meta.tokens_seen);
    f.set_attr("/meta", "data_position", meta.data_position);
    f.set_attr("/meta", "rng_state", meta.rng_state);
    f.set_attr("/meta", "config", meta.config_text);
    if (!base.empty()) {
      f.set_attr("/meta", "base_checkpoint", base);
      f.set_attr("/meta", "base_sha256", base_sha);
    }
    write_config(f, model.config());
    f.close();
  });
}

LlamaConfig read_checkpoint_config(const std::string& path) {
  h5::File f(path, h5::File::Mode::read);
  if (!f.exists("/meta")) fail(path, ": not a condense checkpoint (no /meta)");
  const int64_t version = f.attr_int("/meta", "format_version");
  if (version != kFormatVersion)
    fail(path, ": checkpoint format_version ", version, ", expected ", kFormatVersion);
  LlamaConfig c;
  c.vocab_size = f.attr_int("/meta", "vocab_size");
  c.dim = f.attr_int("/meta", "dim");
  c.n_layers = f.attr_int("/meta", "n_layers");
  c.n_heads = f.attr_int("/meta", "n_heads");
  c.n_kv_heads = f.attr_int("/meta", "n_kv_heads");
  c.ffn_dim = f.attr_int("/meta", "ffn_dim");
  c.norm_eps = static_cast<float>(f.attr_double("/meta", "norm_eps"));
  c.rope_theta = static_cast<float>(f.attr_double("/meta", "rope_theta"));
  c.tie_embeddings = f.attr_int("/meta", "tie_embeddings") != 0;
  c.max_seq_len = f.attr_int("/meta", "max_seq_len");
  return c;
}

CheckpointContents read_checkpoint(const std::string& path, bool with_optimizer) {
  CheckpointContents out;
  out.config = read_checkpoint_config(path);
  h5::File f(path, h5::File::Mode::read);
  for (const std::string& name : f.children("/"))
    if (name != "meta" && name != "optimizer") out.params[name] = read_tensor(f, "/" + name);
  CheckpointMeta& meta = out.meta;
  meta.step = f.attr_int("/meta", "step");
  meta.tokens_seen = f.attr_int("/meta", "tokens_seen");
  meta.data_position = f.attr_int("/meta", "data_position");
  meta.rng_state = f.attr_string("/meta", "rng_state");
  meta.config_text = f.attr_string("/meta", "config");
  if (f.has_attr("/meta", "base_checkpoint")) {
    meta.base_checkpoint = f.attr_string("/meta", "base_checkpoint");
    check_base(path, meta.base_checkpoint, f.attr_string("/meta", "base_sha256"));
    CheckpointContents base = read_checkpoint(meta.base_checkpoint, false);
    if (!(base.config == out.config))
      fail(path, ": its frozen base ", meta.base_checkpoint, " is a model of another config");
    out.params.merge(base.params);  // the checkpoint's own tensors win
  }
  if (with_optimizer) {
    for (const std::string& name : f.children("/optimizer"))
      out.optimizer[name] = {read_tensor(f, "/optimizer/" + name + "/m"),
                             read_tensor(f, "/optimizer/" + name + "/v")};
    out.optimizer_step = f.attr_int("/meta", "optimizer_step");
  }
  return out;
}

CheckpointMeta load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer) {
  const LlamaConfig stored = read_checkpoint_config(path);
  const LlamaConfig& want = model.config();
  if (!(stored == want))
    fail(path, ": checkpoint model (dim ", stored.dim, ", layers ", stored.n_layers, ", heads ",
         stored.n_heads, "/", stored.n_kv_heads, ", ffn ", stored.ffn_dim, ", vocab ",
         stored.vocab_size, ") does not match the configured model (dim ", want.dim, ", layers ",
         want.n_layers, ", heads ", want.n_heads, "/", want.n_kv_heads, ", ffn ", want.ffn_dim,
         ", vocab ", want.vocab_size, ")");
  CheckpointContents c = read_checkpoint(path, optimizer != nullptr);
  for (Param& p : model.params()) {
    auto it = c.params.find(p.name);
    if (it == c.params.end()) fail(path, ": no tensor ", p.name);
    Tensor value = p.var.value();
    assign(path, p.name, it->second, value);
    p.var.set_value(value);
  }
  if (optimizer) {
    for (auto& [name, s] : optimizer->state()) {
      auto it = c.optimizer.find(name);
      if (it == c.optimizer.end())
        fail(path, ": no optimizer state for ", name, " (saved without optimizer?)");
      assign(path, "optimizer/" + name + "/m", it->second.m, s.m);
      assign(path, "optimizer/" + name + "/v", it->second.v, s.v);
    }
    optimizer->set_steps_done(c.optimizer_step);
  }
  return c.meta;
}

}  // namespace condense
