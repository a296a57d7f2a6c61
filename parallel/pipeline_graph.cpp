// PipelineStage::run_graph: a pass graph (pass_graph.h) through the pipeline.
//
// Order: every pass forward in graph order, then every pass backward in reverse (GPipe's
// order within the step). A pass whose inputs read earlier passes' hidden rows cannot
// start on the first stage before those rows have left the last stage, and the
// gradient of those rows exists only once every pass reading them has gone backward
// through the first stage: interleaving independent chains in the graph's order (a
// method puts segment s of every document before segment s + 1 of any) keeps the stages
// busy while a chain's rows travel.
//
// Messages, besides activations and their gradients between neighbours (tag 0):
//   - the last stage sends each pass's exported hidden rows to the first stage, in
//     graph order, on the gradients communicator (the direction towards stage 0);
//   - the first stage sends the gradient of those rows back, in reverse graph order
//     (each once complete), on the activations communicator.
// Both ends walk the same graph, so every message is expected in the order it is sent.
#include <chrono>
#include <memory>

#include "core/error.h"
#include "core/ops.h"
#include "parallel/pipeline.h"
#include "parallel/vocab_parallel.h"

namespace condense::parallel {
namespace {

constexpr int kActivationTag = 0;  // as pipeline.cpp's
constexpr int kHiddenRowsTag = 1;

struct GraphFlight {
  Tape tape;           // this stage's layers
  Tape head;           // last stage: logits and loss, from `out_leaf`
  Var input, output;   // from the previous stage / to the next one
  Var out_leaf, loss;  // last stage
};

Tensor indices(const std::vector<int32_t>& v, Device device) {
  return Tensor::from_i32(v, {static_cast<int64_t>(v.size())}, device);
}

// Whether any later pass reads pass i's exports with a gradient back into it.
std::vector<bool> exports_need_grad(const PassGraph& graph) {
  std::vector<bool> need(graph.size(), false);
  for (const GraphPass& p : graph)
    for (const PassInput& in : p.inputs)
      if (!in.detach) need[in.from] = true;
  return need;
}

}  // namespace

double PipelineStage::run_graph(const PassGraph& graph, double global_targets,
                                std::vector<TraceEvent>* trace) {
  check_graph(graph);
  if (stages_ < 2) fail("pipeline: a pass graph on one stage (run it with sequential_step)");
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  const bool first = stage_ == 0, last = stage_ == stages_ - 1;
  const int last_stage = stages_ - 1;
  const Device device = shard_.device();
  const int64_t D = shard_.config().dim;
  const auto n = static_cast<int>(graph.size());
  const std::vector<bool> need_grad = exports_need_grad(graph);
  const double denominator = std::max(global_targets, 1.0);
  std::vector<std::unique_ptr<GraphFlight>> flight(graph.size());
  double loss_sum = 0;

  // First stage: the exported rows received so far (leaves whose gradient the passes
  // reading them accumulate), and how many readers of each have not gone backward yet.
  std::vector<Var> received(graph.size());
  std::vector<int> readers_left(graph.size(), 0);
  for (const GraphPass& p : graph)
    for (const PassInput& in : p.inputs)
      if (!in.detach) ++readers_left[in.from];
  int next_receive = 0;  // the next pass whose exports the first stage has not received
  auto receive_through = [&](int pass) {
    for (; next_receive <= pass; ++next_receive) {
      const GraphPass& p = graph[next_receive];
      if (p.exports.empty()) continue;
      Tensor rows = Tensor::empty({static_cast<int64_t>(p.exports.size()), D}, DType::f32, device);
      gradients_.recv(rows, last_stage, kHiddenRowsTag);
      received[next_receive] = Var(rows, need_grad[next_receive]);
    }
  };
  // Gradients of exported rows leave in reverse graph order, each once complete.
  int next_grad_send = n - 1;
  auto send_complete_grads = [&] {
    for (; next_grad_send >= 0; --next_grad_send) {
      if (!need_grad[next_grad_send]) continue;
      if (readers_left[next_grad_send] > 0) return;
      const Var& rows = received[next_grad_send];
      activations_.send(
          rows.grad().defined() ? rows.grad() : Tensor::zeros(rows.shape(), DType::f32, device),
          last_stage, kHiddenRowsTag);
    }
  };

  for (int i = 0; i < n; ++i) {
    const GraphPass& p = graph[i];
    const Shape act_shape{p.args.ids.dim(0), p.args.ids.dim(1), D};
    auto f = std::make_unique<GraphFlight>();
    ForwardArgs args = p.args;
    args.training = true;
    if (first) {
      std::vector<Var> values;
      std::vector<int32_t> rows;
      for (const PassInput& in : p.inputs) {
        receive_through(in.from);
        Var v = ops::gather_rows(f->tape, received[in.from], indices(in.exported, device));
        values.push_back(in.detach ? ops::detach(v) : v);
        rows.insert(rows.end(), in.rows.begin(), in.rows.end());
      }
      if (!values.empty()) {
        args.embed_rows = indices(rows, device);
        args.embed_values = values.size() == 1 ? values[0] : ops::concat(f->tape, values, 0);
      }
    } else {
      Tensor x = Tensor::empty(act_shape, DType::f32, device);
      activations_.recv(x, stage_ - 1, kActivationTag);
      f->input = Var(x, true);
    }
    const double begin = seconds();
    Var out = shard_.stage(f->tape, args, f->input);
    if (last) {
      f->out_leaf = Var(out.value(), true);
      f->output = out;
      if (pass_targets(p) > 0) {
        f->loss = vocab_parallel_cross_entropy(f->head, shard_.logits(f->head, f->out_leaf),
                                               p.targets.to(device), shard_.vocab_begin(),
                                               denominator, tp_);
        loss_sum += f->loss.value().to_vector()[0];
      }
      if (!p.exports.empty()) {
        Tape no_grad(false);
        const Var flat = ops::reshape(no_grad, Var(out.value()), {act_shape[0] * act_shape[1], D});
        gradients_.send(ops::gather_rows(no_grad, flat, indices(p.exports, device)).value(), 0,
                        kHiddenRowsTag);
      }
    } else {
      activations_.send(out.value(), stage_ + 1, kActivationTag);
      f->output = out;
    }
    flight[i] = std::move(f);
    if (trace) trace->push_back({stage_, Pass::forward, i, begin, seconds()});
  }
  if (first) receive_through(n - 1);  // exports nobody reads still arrive

  for (int i = n - 1; i >= 0; --i) {
    const GraphPass& p = graph[i];
    const Shape act_shape{p.args.ids.dim(0), p.args.ids.dim(1), D};
    std::unique_ptr<GraphFlight> f = std::move(flight[i]);
    Tensor out_grad;
    double begin = 0;
    if (last) {
      Tensor rows_grad;
      if (need_grad[i]) {
        rows_grad = Tensor::empty({static_cast<int64_t>(p.exports.size()), D}, DType::f32, device);
        activations_.recv(rows_grad, 0, kHiddenRowsTag);
      }
      begin = seconds();
      if (f->loss.defined()) f->head.backward(f->loss);
      if (rows_grad.defined()) {
        Tape rows_tape;
        const Var flat = ops::reshape(rows_tape, f->out_leaf, {act_shape[0] * act_shape[1], D});
        rows_tape.backward(ops::gather_rows(rows_tape, flat, indices(p.exports, device)),
                           rows_grad);
      }
      out_grad = f->out_leaf.grad().defined() ? f->out_leaf.grad()
                                              : Tensor::zeros(act_shape, DType::f32, device);
    } else {
      out_grad = Tensor::empty(act_shape, DType::f32, device);
      gradients_.recv(out_grad, stage_ + 1, kActivationTag);
      begin = seconds();
    }
    f->tape.backward(f->output, out_grad);
    if (!first) {
      gradients_.send(f->input.grad().defined() ? f->input.grad()
                                                : Tensor::zeros(act_shape, DType::f32, device),
                      stage_ - 1, kActivationTag);
    } else {
      for (const PassInput& in : p.inputs)
        if (!in.detach) --readers_left[in.from];
      send_complete_grads();
    }
    if (trace) trace->push_back({stage_, Pass::backward, i, begin, seconds()});
  }
  activations_.wait_sends();
  gradients_.wait_sends();
  return loss_sum;
}

}  // namespace condense::parallel
