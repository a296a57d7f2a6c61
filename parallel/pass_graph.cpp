#include "parallel/pass_graph.h"

#include "core/error.h"
#include "core/ops.h"

namespace condense::parallel {
namespace {

constexpr int32_t kIgnoreIndex = -100;

Tensor indices(const std::vector<int32_t>& v, Device device) {
  return Tensor::from_i32(v, {static_cast<int64_t>(v.size())}, device);
}

}  // namespace

void check_graph(const PassGraph& graph) {
  for (size_t i = 0; i < graph.size(); ++i) {
    const GraphPass& p = graph[i];
    if (p.args.ids.ndim() != 2) fail("pass graph: pass ", i, " has no [B,T] ids");
    const int64_t rows = p.args.ids.numel();
    if (p.args.embed_rows.defined())
      fail("pass graph: pass ", i, " sets embed_rows itself; its inputs name them");
    if (p.targets.shape() != p.args.ids.shape())
      fail("pass graph: pass ", i, " has targets ", shape_str(p.targets.shape()), " for ids ",
           shape_str(p.args.ids.shape()));
    for (int32_t r : p.exports)
      if (r < 0 || r >= rows) fail("pass graph: pass ", i, " exports row ", r, " of ", rows);
    for (const PassInput& in : p.inputs) {
      if (in.from < 0 || static_cast<size_t>(in.from) >= i)
        fail("pass graph: pass ", i, " reads pass ", in.from, ", which does not come before it");
      if (in.exported.size() != in.rows.size())
        fail("pass graph: pass ", i, " takes ", in.exported.size(), " exported rows into ",
             in.rows.size(), " rows");
      const auto exports = static_cast<int32_t>(graph[in.from].exports.size());
      for (int32_t e : in.exported)
        if (e < 0 || e >= exports)
          fail("pass graph: pass ", i, " reads export ", e, " of pass ", in.from, ", which has ",
               exports);
      for (int32_t r : in.rows)
        if (r < 0 || r >= rows) fail("pass graph: pass ", i, " replaces row ", r, " of ", rows);
    }
  }
}

int64_t pass_targets(const GraphPass& pass) {
  int64_t n = 0;
  for (int32_t t : pass.targets.to_i32_vector()) n += t != kIgnoreIndex;
  return n;
}

int64_t graph_targets(const PassGraph& graph) {
  int64_t n = 0;
  for (const GraphPass& p : graph) n += pass_targets(p);
  return n;
}

PassStep sequential_step(const PassGraph& graph) {
  check_graph(graph);
  return [&graph](PassContext& ctx) {
    const Llama& model = ctx.model();
    Tape& tape = ctx.tape();
    const Device device = model.device();
    const int64_t D = model.config().dim;
    std::vector<Var> exported(graph.size());
    for (size_t i = 0; i < graph.size(); ++i) {
      const GraphPass& p = graph[i];
      ForwardArgs args = p.args;
      args.training = true;
      if (!p.inputs.empty()) {
        std::vector<Var> values;
        std::vector<int32_t> rows;
        for (const PassInput& in : p.inputs) {
          Var v = ops::gather_rows(tape, exported[in.from], indices(in.exported, device));
          values.push_back(in.detach ? ops::detach(v) : v);
          rows.insert(rows.end(), in.rows.begin(), in.rows.end());
        }
        args.embed_rows = indices(rows, device);
        args.embed_values = values.size() == 1 ? values[0] : ops::concat(tape, values, 0);
      }
      const Var hidden = model.hidden(tape, args);
      if (pass_targets(p) > 0) ctx.loss_sum(hidden, p.targets.to(device));
      if (!p.exports.empty()) {
        const int64_t BT = p.args.ids.numel();
        exported[i] =
            ops::gather_rows(tape, ops::reshape(tape, hidden, {BT, D}), indices(p.exports, device));
      }
    }
  };
}

}  // namespace condense::parallel
