// The registered methods (registry.def) and what every method-aware command does with
// `--method`: pick the method, and refuse another method's options by name.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "experiments/cli.h"
#include "experiments/methods/method.h"

namespace condense::methods {

// The method without --method: language-model training on a token dataset.
inline constexpr const char* kDefaultMethod = "lm";

std::vector<std::string> names();
// A fresh instance of the method `name`; an unknown name is a one-line error listing the known.
std::unique_ptr<Method> make(const std::string& name);

// The method `args` select: --method on the command line, else `method = ...` in the
// --config file, else kDefaultMethod.
std::string selected(const std::string& command, const cli::Args& args);

// Registers --method, and (without defaults) the options of every other method, so that
// check_foreign_options() can name them; then the command registers its own.
void add_method_options(cli::po::options_description& desc, const Method& selected);
// An option of another method given on the command line or in a config file is a
// one-line error naming it and its method.
void check_foreign_options(const std::string& command, const cli::po::variables_map& vm,
                           const Method& selected);

}  // namespace condense::methods
