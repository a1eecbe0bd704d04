// cli.cpp — sub-command dispatch and the top-level usage text.
#include "sim/cli.h"

#include "sim/config.h"

#include <cstdio>
#include <cstring>
#include <iostream>

namespace iommusim {

static void usage(FILE *out)
{
    std::fputs(
        "usage: iommusim <command> [options]\n"
        "\n"
        "commands:\n"
        "  run                   timed simulation (SystemC/TLM): latency, throughput\n"
        "  replay --functional   untimed replay of a trace through the C core\n"
        "  info                  decode the modelled unit's capability registers\n"
        "  config                list every config key, or resolve a preset\n"
        "  trace convert|stats|gen\n"
        "                        convert, inspect and generate traces\n"
        "\n"
        "With no command, runs the timed simulation (`run`) of the default preset on the bundled\n"
        "sample trace.\n"
        "`iommusim <command> --help` describes each command's options.\n",
        out);
}

int parse_options(const char *cmd, const boost::program_options::options_description &desc,
                  int argc, char **argv, boost::program_options::variables_map &vm)
{
    namespace po = boost::program_options;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        std::fprintf(stderr, "iommusim %s: %s\n", cmd, e.what());
        return EXIT_BADINPUT;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return EXIT_OK;
    }
    return -1;
}

int guarded(const std::function<int()> &body)
{
    try {
        return body();
    } catch (const InputError &e) {
        std::fprintf(stderr, "iommusim: %s\n", e.what());
        return EXIT_BADINPUT;
    } catch (const tlm_model::RunInputError &e) {
        std::fprintf(stderr, "iommusim: %s\n", e.what());
        return EXIT_BADINPUT;
    } catch (const std::bad_alloc &) {
        std::fprintf(stderr, "iommusim: out of memory\n");
        return EXIT_FAIL;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "iommusim: %s\n", e.what());
        return EXIT_FAIL;
    }
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        // The main job: the timed simulation of the default preset on the bundled sample trace.
        static char name[] = "run";
        char *args[] = {name, nullptr};
        return cmd_run(1, args);
    }
    const char *cmd = argv[1];
    if (!std::strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!std::strcmp(cmd, "replay"))
        return cmd_replay(argc - 1, argv + 1);
    if (!std::strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!std::strcmp(cmd, "config"))
        return cmd_config(argc - 1, argv + 1);
    if (!std::strcmp(cmd, "trace"))
        return cmd_trace(argc - 1, argv + 1);
    if (!std::strcmp(cmd, "-h") || !std::strcmp(cmd, "--help") || !std::strcmp(cmd, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    std::fprintf(stderr, "iommusim: unknown command '%s' (try 'iommusim --help')\n", cmd);
    return EXIT_BADINPUT;
}

} // namespace iommusim
