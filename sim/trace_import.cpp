// trace_import.cpp — `iommusim trace import SOURCE ...`: converters from other tools' traces
// to the iommusim trace format. (Being written: the Linux/QEMU VT-d importer, issue 4.)
#include <cstdio>

#include "cli.h"

namespace iommusim {

int cmd_trace_import(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    std::fprintf(stderr, "iommusim trace import: no importer is built yet\n");
    return EXIT_BADINPUT;
}

} // namespace iommusim
