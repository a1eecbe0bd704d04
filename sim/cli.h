// cli.h — sub-command dispatch of the iommusim program.
#pragma once

#include <functional>

#include <boost/program_options.hpp>

namespace iommusim {

// Exit statuses: 0 success, 1 the run itself failed (I/O error writing output, …),
// 2 unusable input (bad option, config key, trace).
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_BADINPUT = 2 };

int cli_main(int argc, char **argv);

// Runs a command's body and maps what it throws to one line on stderr and the exit status:
// unusable input (config, trace, topology) → EXIT_BADINPUT; anything else → EXIT_FAIL.
int guarded(const std::function<int()> &body);

// Parses a sub-command's options into vm. On a usage error prints "iommusim <cmd>: <why>"
// and returns EXIT_BADINPUT; on --help prints desc and returns EXIT_OK; otherwise -1 (go on).
int parse_options(const char *cmd, const boost::program_options::options_description &desc,
                  int argc, char **argv, boost::program_options::variables_map &vm);

// Sub-commands; argv[0] is the sub-command's name.
int cmd_replay(int argc, char **argv);
int cmd_run(int argc, char **argv); // sim/run.cpp: the timed simulation
int cmd_info(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_trace(int argc, char **argv); // sim/trace_cmd.cpp: convert, stats, gen
// sim/trace_import.cpp: `trace import SOURCE ...`; argv[0] is "import".
int cmd_trace_import(int argc, char **argv);

} // namespace iommusim
