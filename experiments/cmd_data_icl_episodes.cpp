// condense data icl-episodes --task sst2=train.tsv [--task agnews=dev.tsv ...]
//     [--demos sst2=train.tsv ...] --k 16 --tokenizer MODEL --out F.h5 [--text_out F.txt]
// ICL episodes (datasets/icl_episodes.h) for CCM: a task's demonstrations come from its
// --demos files (one shared draw for every episode: evaluation) or, without --demos,
// from its own file without the query (a fresh draw per episode: training).
#include <map>
#include <random>

#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/icl_episodes.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {
namespace {

// "task=file[,file]" -> (task, files)
std::pair<std::string, std::vector<std::string>> task_files(const std::string& arg,
                                                            const std::string& option) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    fail("data icl-episodes: --", option, " expects TASK=FILE[,FILE], got '", arg, "'");
  std::vector<std::string> files;
  for (size_t at = eq + 1; at <= arg.size();) {
    const size_t comma = std::min(arg.find(',', at), arg.size());
    files.push_back(arg.substr(at, comma - at));
    at = comma + 1;
  }
  return {arg.substr(0, eq), files};
}

}  // namespace

int data_icl_episodes(const cli::Args& args) {
  data_cli::Common c;
  std::vector<std::string> queries, demos;
  data::IclEpisodeOptions o;
  std::string text_out;
  cli::po::options_description desc("data icl-episodes");
  desc.add_options()("task", cli::po::value(&queries)->required(),
                     "TASK=FILE[,FILE]: a task (sst2, agnews, trec, mr, subj, rte) and the "
                     "files of its queries, as `data icl` reads them; repeat for several")(
      "demos", cli::po::value(&demos),
      "TASK=FILE[,FILE]: where the task's demonstrations come from (one seeded draw shared "
      "by its episodes); without it, a fresh draw from the task's own file per episode")(
      "k", cli::po::value(&o.demos)->default_value(16), "demonstrations per episode")(
      "max-tokens", cli::po::value(&o.max_tokens)->default_value(1024),
      "text tokens of an episode (BOS and label included); demonstrations are cut to fit")(
      "max-example-tokens", cli::po::value(&o.max_example_tokens)->default_value(256),
      "longer examples are never demonstrations")(
      "episodes", cli::po::value(&o.episodes)->default_value(0),
      "episodes per task, a seeded sample of its queries (0: one per query, in order)")(
      "seed", cli::po::value(&o.seed)->default_value(100), "the draws' seed")(
      "text_out", cli::po::value(&text_out),
      "also write each episode as one line of text, its turns joined by spaces, the "
      "episodes in a seeded random order (for `data text --doc-per-line`: a language model "
      "pretrained on every token)");
  data_cli::add_common(desc, c, "train", "", "research use");
  cli::po::variables_map vm;
  if (!cli::parse("data icl-episodes", desc, args, vm)) return 0;
  std::map<std::string, std::vector<std::string>> demo_files;
  for (const std::string& d : demos) demo_files.insert(task_files(d, "demos"));
  std::vector<data::IclEpisodeTask> tasks;
  std::string sources;
  for (const std::string& q : queries) {
    const auto [task, files] = task_files(q, "task");
    data::IclEpisodeTask t;
    t.queries = data::read_icl(task, files);
    sources += (sources.empty() ? "" : "; ") + q;
    const auto d = demo_files.find(task);
    t.same_pool = d == demo_files.end();
    if (!t.same_pool) {
      t.demos = data::read_icl(task, d->second);
      sources += " (demonstrations: " + d->second.front() + ")";
      demo_files.erase(d);
    } else {
      t.demos = t.queries;
    }
    tasks.push_back(std::move(t));
  }
  if (c.source.empty()) c.source = sources;
  if (!demo_files.empty())
    fail("data icl-episodes: --demos names task ", demo_files.begin()->first,
         ", which no --task gives");
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  data::TokenDatasetContents contents = data::icl_episodes(tasks, tok, o, c.out);
  if (!text_out.empty()) {
    const std::vector<int64_t>& off = contents.int64s.at("/turn_offsets");
    const std::vector<std::string>& turns = contents.texts.at("turn");
    // In a seeded random order, tasks mixed: a language model's loader reads the lines
    // in order, and one task after another would be learned and then forgotten.
    std::vector<size_t> order(off.size() - 1);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 g(o.seed);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[g() % i]);
    std::string text;
    for (const size_t i : order) {
      for (int64_t r = off[i]; r < off[i + 1]; ++r) text += (r > off[i] ? " " : "") + turns[r];
      text += "\n";
    }
    write_file_atomically(text_out, text);
  }
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
