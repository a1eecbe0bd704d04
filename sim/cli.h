// cli.h — sub-command dispatch of the iommusim program.
#pragma once

namespace iommusim {

// Exit statuses: 0 success, 1 the run itself failed (I/O error writing output, …),
// 2 unusable input (bad option, config key, trace).
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_BADINPUT = 2 };

int cli_main(int argc, char **argv);

// Sub-commands; argv[0] is the sub-command's name.
int cmd_replay(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_trace(int argc, char **argv); // sim/trace_cmd.cpp: convert, stats, gen

} // namespace iommusim
