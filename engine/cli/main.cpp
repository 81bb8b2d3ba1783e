// The `turbine` binary: serve, run, chat, bench, perplexity, synth.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "base/log.h"
#include "engine/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"turbine: Llama-family LLM inference (OpenAI-compatible server, CLI tools)"};
  app.set_version_flag("--version", std::string("turbine ") + TURBINE_VERSION);
  app.require_subcommand(1);
  bool json_logs = false, verbose = false, quiet = false;
  app.add_flag("--log-json", json_logs, "log one JSON object per line");
  app.add_flag("-v,--verbose", verbose, "debug logging");
  app.add_flag("-q,--quiet", quiet, "only warnings and errors");
  app.parse_complete_callback([&] {
    turbine::process_logger().set_json(json_logs);
    turbine::process_logger().set_min_level(verbose ? turbine::LogLevel::kDebug
                                            : quiet ? turbine::LogLevel::kWarn
                                                    : turbine::LogLevel::kInfo);
  });
  turbine::add_run_commands(app);
  turbine::add_bench_command(app);
  turbine::add_perplexity_command(app);
  turbine::add_synth_command(app);
  turbine::add_quantize_command(app);
  turbine::add_serve_command(app);
  if (argc > 1 && argv[1][0] != '-') {
    // CLI11 would only say "A subcommand is required"; name the word it did not know.
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "error: unknown command '%s' (commands: %s; see --help)\n", argv[1],
                   names.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const turbine::CliError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
