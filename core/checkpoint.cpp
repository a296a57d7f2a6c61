#include "core/checkpoint.h"

#include "core/atomic_file.h"
#include "core/h5.h"

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

void read_into(const h5::File& f, const std::string& name, const Var& var) {
  const Tensor& cur = var.value();
  std::vector<float> data = f.read_f32(name, cur.shape());
  var.set_value(Tensor::from_f32(data, cur.shape(), cur.device()));
}

void read_into(const h5::File& f, const std::string& name, Tensor& t) {
  std::vector<float> data = f.read_f32(name, t.shape());
  t = Tensor::from_f32(data, t.shape(), t.device());
}

}  // namespace

void save_checkpoint(const std::string& path, const Llama& model, const AdamW* optimizer,
                     const CheckpointMeta& meta) {
  write_atomically(path, [&](const std::string& tmp) {
    h5::File f(tmp, h5::File::Mode::create);
    for (const Param& p : model.params()) write_tensor(f, "/" + p.name, p.var.value());
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
    write_config(f, model.config());
    f.flush();
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

CheckpointMeta load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer) {
  const LlamaConfig stored = read_checkpoint_config(path);
  const LlamaConfig& want = model.config();
  if (!(stored == want))
    fail(path, ": checkpoint model (dim ", stored.dim, ", layers ", stored.n_layers, ", heads ",
         stored.n_heads, "/", stored.n_kv_heads, ", ffn ", stored.ffn_dim, ", vocab ",
         stored.vocab_size, ") does not match the configured model (dim ", want.dim, ", layers ",
         want.n_layers, ", heads ", want.n_heads, "/", want.n_kv_heads, ", ffn ", want.ffn_dim,
         ", vocab ", want.vocab_size, ")");
  h5::File f(path, h5::File::Mode::read);
  for (Param& p : model.params()) read_into(f, "/" + p.name, p.var);
  CheckpointMeta meta;
  meta.step = f.attr_int("/meta", "step");
  meta.tokens_seen = f.attr_int("/meta", "tokens_seen");
  meta.data_position = f.attr_int("/meta", "data_position");
  meta.rng_state = f.attr_string("/meta", "rng_state");
  meta.config_text = f.attr_string("/meta", "config");
  if (optimizer) {
    for (auto& [name, s] : optimizer->state()) {
      if (!f.exists("/optimizer/" + name + "/m"))
        fail(path, ": no optimizer state for ", name, " (saved without optimizer?)");
      read_into(f, "/optimizer/" + name + "/m", s.m);
      read_into(f, "/optimizer/" + name + "/v", s.v);
    }
    optimizer->set_steps_done(f.attr_int("/meta", "optimizer_step"));
  }
  return meta;
}

}  // namespace condense
