// main.cpp — the iommusim program: dispatches to its sub-commands.
#include "sim/cli.h"

int main(int argc, char **argv)
{
    return iommusim::cli_main(argc, argv);
}
