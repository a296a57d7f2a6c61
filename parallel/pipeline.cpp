#include "parallel/pipeline.h"

#include <chrono>
#include <memory>

#include "parallel/vocab_parallel.h"

namespace condense::parallel {
namespace {

// What a micro-batch keeps between its forward and its backward.
struct InFlight {
  explicit InFlight(bool train) : tape(train) {}
  Tape tape;
  Var input, output, loss;
};

constexpr int kTag = 0;

}  // namespace

PipelineStage::PipelineStage(const Llama& shard, int stage, int stages, Communicator& activations,
                             Communicator& gradients, Communicator& tp)
    : shard_(shard),
      stage_(stage),
      stages_(stages),
      activations_(activations),
      gradients_(gradients),
      tp_(tp) {}

double PipelineStage::run(const std::vector<PipelineAction>& schedule,
                          const std::vector<MicroBatch>& micro, bool train,
                          std::vector<TraceEvent>* trace) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  const bool first = stage_ == 0, last = stage_ == stages_ - 1;
  const Device device = shard_.device();
  const int64_t D = shard_.config().dim;
  std::vector<std::unique_ptr<InFlight>> flight(micro.size());
  double loss_sum = 0;
  for (const PipelineAction& a : schedule) {
    const MicroBatch& mb = micro.at(a.micro);
    const Shape act_shape{mb.args.ids.dim(0), mb.args.ids.dim(1), D};
    double begin = 0;
    if (a.pass == Pass::forward) {
      auto f = std::make_unique<InFlight>(train);
      if (!first) {
        Tensor x = Tensor::empty(act_shape, DType::f32, device);
        activations_.recv(x, stage_ - 1, kTag);
        f->input = Var(x, train);
      }
      begin = seconds();  // the trace times compute, not waiting for the neighbour
      Var out = shard_.stage(f->tape, mb.args, f->input);
      if (last) {
        f->loss = vocab_parallel_cross_entropy(f->tape, shard_.logits(f->tape, out), mb.targets,
                                               shard_.vocab_begin(), mb.denominator, tp_);
        loss_sum += f->loss.value().to_vector()[0];
      } else {
        activations_.send(out.value(), stage_ + 1, kTag);
        f->output = out;
      }
      if (train) flight[a.micro] = std::move(f);
    } else {
      if (!train) fail("pipeline: a backward pass in an evaluation schedule");
      std::unique_ptr<InFlight> f = std::move(flight.at(a.micro));
      if (!f) fail("pipeline: backward of micro-batch ", a.micro, " before its forward");
      if (last) {
        begin = seconds();
        f->tape.backward(f->loss);
      } else {
        Tensor g = Tensor::empty(act_shape, DType::f32, device);
        gradients_.recv(g, stage_ + 1, kTag);
        begin = seconds();
        f->tape.backward(f->output, g);
      }
      if (!first)
        gradients_.send(f->input.grad().defined() ? f->input.grad()
                                                  : Tensor::zeros(act_shape, DType::f32, device),
                        stage_ - 1, kTag);
    }
    if (trace) trace->push_back({stage_, a.pass, a.micro, begin, seconds()});
  }
  activations_.wait_sends();
  gradients_.wait_sends();
  return loss_sum;
}

}  // namespace condense::parallel
