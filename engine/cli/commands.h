// Subcommands of the `turbine` binary; each adds itself to the CLI11 app.
#pragma once
#include <stdexcept>
#include <string>

namespace CLI {
class App;
}

namespace turbine {

// A user-facing failure: main prints "error: <message>" and exits 1.
struct CliError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void add_run_commands(CLI::App& app);  // run, chat
void add_bench_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace turbine
