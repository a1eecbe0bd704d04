// config_cmd.cpp — `iommusim config`: lists every config key with its type, range, built-in
// default and meaning (the reference table of docs/config.md is this command's output), or
// prints the fully resolved configuration of a preset.
#include <cstdio>
#include <iostream>

#include <boost/program_options.hpp>

#include "sim/cli.h"
#include "sim/config.h"

namespace po = boost::program_options;

namespace iommusim {

static std::string type_text(const KeySpec &k)
{
    switch (k.type) {
    case KeyType::Bool: return "bool";
    case KeyType::Int: return "int [" + std::to_string(k.min) + ", " + std::to_string(k.max) + "]";
    case KeyType::IntList: return "list of int [" + std::to_string(k.min) + ", " + std::to_string(k.max) + "]";
    case KeyType::Float: return "number [" + nlohmann::json(k.fmin).dump() + ", " + nlohmann::json(k.fmax).dump() + "]";
    case KeyType::String: {
        std::string s;
        for (auto &c : k.choices)
            s += (s.empty() ? "" : " \\| ") + c;
        return s.empty() ? "string" : s;
    }
    }
    return "?";
}

int cmd_config(int argc, char **argv)
{
    po::options_description desc(
        "usage: iommusim config [--keys] | [-c CONFIG] [--set key=value]... --resolved\n\noptions");
    std::vector<std::string> sets;
    std::string config;
    desc.add_options()("help,h", "this text")("keys", "list every key as a Markdown table (default)")(
        "resolved", "print the fully resolved configuration of CONFIG as JSON")(
        "config,c", po::value(&config), "JSON preset (default: configs/default.json)")(
        "set", po::value(&sets)->composing(), "override a config key (repeatable)");
    po::variables_map vm;
    if (int rc = parse_options("config", desc, argc, argv, vm); rc >= 0)
        return rc;
    return guarded([&]() -> int {
        if (vm.count("resolved")) {
            Config cfg = Config::load(config, sets);
            cfg.core(); // validate
            std::cout << cfg.resolved().dump(2) << "\n";
            return EXIT_OK;
        }
        const CoreConfig defaults = Config().core();
        std::cout << "| key | type | built-in default | meaning |\n|---|---|---|---|\n";
        for (auto &k : config_schema()) {
            nlohmann::json v = k.get(defaults);
            std::cout << "| `" << k.key << "` | " << type_text(k) << " | `" << v.dump() << "` | "
                      << k.desc << " |\n";
        }
        return EXIT_OK;
    });
}

} // namespace iommusim
