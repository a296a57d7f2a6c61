// Pipeline schedules: the order in which one stage runs the forward and
// backward passes of a step's micro-batches, and the trace of what it ran.
#pragma once
#include <string>
#include <vector>

namespace condense::parallel {

enum class Pass { forward, backward };

struct PipelineAction {
  Pass pass;
  int micro;
  bool operator==(const PipelineAction&) const = default;
};

// 1F1B (PipeDream-Flush, Megatron's non-interleaved schedule) for `stage` of
// `stages` over `micro_batches`: warm-up forwards, min(stages - stage - 1, m) of
// them, so that every later stage has work; then alternately one forward and one
// backward; then the remaining backwards (cool-down). A stage holds at most
// stages - stage micro-batches' activations, instead of m as with all forwards
// first (GPipe), and the bubble is the same (p-1)/(m+p-1).
std::vector<PipelineAction> one_f_one_b(int stage, int stages, int micro_batches);

// Forwards only, in order (evaluation).
std::vector<PipelineAction> forward_only(int micro_batches);

// One pass as it ran: times in seconds since the start of the step.
struct TraceEvent {
  int stage;
  Pass pass;
  int micro;
  double begin_s, end_s;
};

// "F0 F1 B0 F2 B1 ..." for messages and logs.
std::string describe(const std::vector<PipelineAction>& actions);

}  // namespace condense::parallel
