// Command-line plumbing shared by every `condense` subcommand.
//
// Every option can also come from an INI-style file given with --config FILE:
// `key = value` lines, `[section]` headers prefix keys as `section.key`
// (so `[gist] num_tokens = 5` is `--gist.num_tokens 5`). The command line wins
// over the file. An unknown option or a bad value is a one-line error naming it.
#pragma once
#include <boost/program_options.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace condense::cli {

namespace po = boost::program_options;
using Args = std::vector<std::string>;

// Parses `args` (without the command words) against `desc`, adding --help and
// --config. Returns false when --help was given (usage already printed to stdout).
// With `ignore_unknown`, options `desc` does not know are left alone, on the command
// line and in the config file (for commands that read part of a shared config).
// `fallback_config`, INI text read with ignore_unknown, sets what neither the command
// line nor --config does (say, the options a run was trained with).
// `positional`, when given, names the options that words without a dash fill.
bool parse(const std::string& command, po::options_description desc, const Args& args,
           po::variables_map& vm, bool ignore_unknown = false,
           const std::string& fallback_config = "",
           const po::positional_options_description* positional = nullptr);

// The value of one string option, read ahead of parsing (the command line, else the
// --config file, else `fallback`): for options that decide what the others are.
std::string peek(const std::string& command, const Args& args, const std::string& name,
                 const std::string& fallback);

// The resolved options as INI text (for a run directory's config.cfg).
std::string to_config_text(const po::variables_map& vm);

// The value of a list option `option` (no dashes): "1,2,5,10" -> {1, 2, 5, 10}. An empty
// list, an entry that is not an integer or one below `min` is a one-line error naming
// --option. Callers check any other range themselves.
std::vector<int64_t> parse_int_list(const std::string& option, const std::string& text,
                                    int64_t min = std::numeric_limits<int64_t>::min());

// One subcommand: its words ("eval ppl"), a one-line help, and its entry point.
struct Command {
  const char* words;
  const char* help;
  int (*run)(const Args& args);
};
const std::vector<Command>& commands();

}  // namespace condense::cli
