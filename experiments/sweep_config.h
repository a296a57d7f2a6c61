// The config file one grid point of a multi-method sweep trains with. A sweep config
// may hold what only some methods take in method-scoped sections: `[ccm:data]` is the
// [data] section of the ccm runs alone (another method's [data] differs), `[gist:train]`
// gives gist runs their own training keys, and `[ccm]` (a method's own options) belongs
// to that method. For a point of method M the sweep writes, into the run directory,
// the config with every scoped section of M unscoped (its keys win over the common
// section's), the sections of other methods dropped, and `method = M`.
#pragma once
#include <string>
#include <vector>

namespace condense::exp {

// `text`: the INI config; `methods`: every registered method's name. Comments and
// blank lines are dropped; a line that is neither a section, a key = value nor a
// comment is a one-line error naming `path` and the line.
std::string config_for_method(const std::string& text, const std::string& path,
                              const std::string& method, const std::vector<std::string>& methods);

}  // namespace condense::exp
