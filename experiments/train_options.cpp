#include "experiments/train_options.h"

namespace condense::exp {

namespace po = cli::po;

void add_model_options(po::options_description& desc, LlamaConfig& m) {
  desc.add_options()("model.vocab_size", po::value(&m.vocab_size)->default_value(0),
                     "vocabulary (0: the tokenizer's)")(
      "model.dim", po::value(&m.dim)->default_value(m.dim), "model dim D")(
      "model.n_layers", po::value(&m.n_layers)->default_value(m.n_layers), "layers L")(
      "model.n_heads", po::value(&m.n_heads)->default_value(m.n_heads), "attention heads H")(
      "model.n_kv_heads", po::value(&m.n_kv_heads)->default_value(m.n_kv_heads),
      "key/value heads (GQA)")("model.ffn_dim", po::value(&m.ffn_dim)->default_value(m.ffn_dim),
                               "SwiGLU hidden dim F")(
      "model.norm_eps", po::value(&m.norm_eps)->default_value(m.norm_eps), "RMSNorm epsilon")(
      "model.rope_theta", po::value(&m.rope_theta)->default_value(m.rope_theta), "RoPE base")(
      "model.tie_embeddings", po::value(&m.tie_embeddings)->default_value(m.tie_embeddings),
      "share input embedding and lm_head")(
      "model.max_seq_len", po::value(&m.max_seq_len)->default_value(m.max_seq_len),
      "longest sequence the model is meant for");
}

void add_optim_options(po::options_description& desc, AdamWConfig& o) {
  desc.add_options()("optim.lr", po::value(&o.lr)->default_value(o.lr), "peak learning rate")(
      "optim.min_lr_ratio", po::value(&o.min_lr_ratio)->default_value(o.min_lr_ratio),
      "cosine floor as a fraction of lr")(
      "optim.warmup_steps", po::value(&o.warmup_steps)->default_value(o.warmup_steps),
      "linear warm-up steps")("optim.beta1", po::value(&o.beta1)->default_value(o.beta1), "AdamW")(
      "optim.beta2", po::value(&o.beta2)->default_value(o.beta2), "AdamW")(
      "optim.eps", po::value(&o.eps)->default_value(o.eps), "AdamW")(
      "optim.weight_decay", po::value(&o.weight_decay)->default_value(o.weight_decay),
      "decoupled weight decay (matrices only)")(
      "optim.grad_clip", po::value(&o.grad_clip)->default_value(o.grad_clip),
      "global gradient-norm clip (0: off)");
}

void add_train_options(po::options_description& desc, TrainLoopOptions& t) {
  desc.add_options()("train.batch_size", po::value(&t.batch_size)->default_value(t.batch_size),
                     "sequences per micro-batch")(
      "train.seq_len", po::value(&t.seq_len)->default_value(t.seq_len), "tokens per sequence")(
      "train.steps", po::value(&t.steps)->default_value(t.steps), "optimizer steps in all")(
      "train.grad_accum", po::value(&t.grad_accum)->default_value(t.grad_accum),
      "micro-batches per optimizer step")(
      "train.stop_at", po::value(&t.stop_at)->default_value(t.stop_at),
      "end this invocation after this step (resume later); 0: run to train.steps")(
      "train.log_every", po::value(&t.log_every)->default_value(t.log_every),
      "steps between progress lines")(
      "train.save_every", po::value(&t.save_every)->default_value(t.save_every),
      "steps between checkpoints (0: at the end only)")(
      "train.keep_checkpoints", po::value(&t.keep_checkpoints)->default_value(t.keep_checkpoints),
      "newest checkpoints kept (0: all)")(
      "train.eval_every", po::value(&t.eval_every)->default_value(t.eval_every),
      "steps between validation losses (0: never)")(
      "train.eval_batches", po::value(&t.eval_batches)->default_value(t.eval_batches),
      "validation batches per evaluation")(
      "train.seed", po::value(&t.seed)->default_value(t.seed), "initialisation seed")(
      "train.init_from", po::value(&t.init_from)->default_value(""),
      "start from this checkpoint or model directory")(
      "run.dir", po::value(&t.run_dir)->required(), "run directory")(
      "device", po::value(&t.device)->default_value(t.device), "cpu or cuda")(
      "resume", po::bool_switch(&t.resume), "continue the run in run.dir from its last checkpoint");
}

void add_parallel_options(po::options_description& desc, ParallelLayoutOptions& p) {
  desc.add_options()("tp", po::value(&p.tp)->default_value(p.tp),
                     "tensor-parallel ranks (heads, kv-heads, ffn dim and vocabulary split)")(
      "pp", po::value(&p.pp)->default_value(p.pp), "pipeline stages (layers split)")(
      "micro-batches", po::value(&p.micro_batches)->default_value(p.micro_batches),
      "micro-batches per batch and data-parallel rank (1F1B pipeline schedule)")(
      "zero1", po::bool_switch(&p.zero1), "shard AdamW moments across data-parallel ranks")(
      "comm-timeout", po::value(&p.comm_timeout)->default_value(p.comm_timeout),
      "seconds a rank waits for another before ending the job");
}

}  // namespace condense::exp
