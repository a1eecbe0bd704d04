// test_util.h — small file helpers shared by the test suites.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace test_util {

// $TMPDIR (or /tmp) / iommusim-<tag>-<pid>-<name>: unique per test process.
inline std::string tmp_path(const std::string &tag, const std::string &name)
{
    const char *dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/iommusim-" + tag + "-" +
           std::to_string(::getpid()) + "-" + name;
}

// The whole file ("" when it cannot be read).
inline std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

// Replaces the file's contents with data.
inline void spit(const std::string &path, const std::string &data)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
}

} // namespace test_util
