#include "experiments/methods/method.h"

#include "core/error.h"

namespace condense::methods {

// What a method does not offer is a one-line error naming the method.
std::string Method::evaluate(const std::string& task, const Llama&, int64_t, const std::string&,
                             const exp::RunDir*) {
  fail("method ", name(), " has no evaluation task '", task, "'");
}

int64_t Method::prompt_length(const instruct::Example&) const {
  fail("method ", name(), " does not answer instruction records");
}

std::string Method::prompt_text(const std::string&, const std::string&) const {
  fail("method ", name(), " does not answer instruction records");
}

Memory Method::compress(const Llama&, const Records&) const {
  fail("method ", name(), " has no compress()");
}

eval::BatchGenerateResult Method::answer(const Llama&, const Memory&, const Records&,
                                         const eval::BatchGenerateConfig&) const {
  fail("method ", name(), " has no answer()");
}

int Method::bench(const cli::Args&) {
  fail("bench: method ", name(), " has no benchmark");
}

int Method::chat(const cli::Args&) {
  fail("chat: method ", name(), " has no interactive dialogue (ccm has)");
}

}  // namespace condense::methods
