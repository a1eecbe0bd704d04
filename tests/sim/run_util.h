// run_util.h — runs the iommusim program as a subprocess for CLI tests.
#pragma once

#include "test_util.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

struct RunResult {
    int status = -1;
    std::string out, err;
};

using test_util::slurp;

// A per-test scratch directory under the build tree.
inline std::string scratch_dir()
{
    static std::string dir;
    if (dir.empty()) {
        char tmpl[] = "/tmp/iommusim-test-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    return dir;
}

// Runs `iommusim ARGS` (ARGS is shell-quoted by the caller).
inline RunResult run_iommusim(const std::string &args)
{
    static int n = 0;
    std::string base = scratch_dir() + "/run" + std::to_string(getpid()) + "_" + std::to_string(n++);
    std::string cmd = std::string(IOMMUSIM_BIN) + " " + args + " >" + base + ".out 2>" + base + ".err";
    RunResult r;
    int st = std::system(cmd.c_str());
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(base + ".out");
    r.err = slurp(base + ".err");
    return r;
}

inline void write_file(const std::string &path, const std::string &text) { test_util::spit(path, text); }

inline int count_lines(const std::string &s)
{
    int n = 0;
    for (char c : s)
        n += c == '\n';
    return n;
}
