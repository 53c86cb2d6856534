// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The program's entry, declared in cli.hpp: picks the command, and turns every failure into
// one line on standard error and an exit code.
#include "cli.hpp"

#include <exception>
#include <new>

#include "fleet.hpp"
#include "profile.hpp"
#include "replay.hpp"
#include "vigil/error.hpp"

namespace vigil::tools {

namespace {

int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const Command*& command) {
  if (args.size() < 2) usage_error("no command given");
  const std::string& name = args[1];
  if (name == "--help" || name == "-h" || name == "help") {
    out << general_usage();
    return exit_ok;
  }
  command = find_command(name);
  if (command == nullptr) usage_error("unknown command '" + name + "'");
  const Options options(*command, args, 2);
  if (options.has("help")) {
    out << usage_of(*command);
    return exit_ok;
  }
  if (command == &profile_command()) return run_profile(options, out, err);
  if (command == &merge_command()) return run_merge(options, out, err);
  if (command == &report_command()) return run_report(options, out, err);
  return run_replay(options, out, err);
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const Command* command = nullptr;  // known once the arguments name one
  try {
    return run_command(args, out, err, command);
  } catch (const Failure& e) {
    err << "vigil: " << e.what() << '\n';
    if (e.usage()) err << '\n' << (command ? usage_of(*command) : general_usage());
    return exit_input;
  } catch (const vigil::error& e) {
    // Bad input is refused above as a Failure; a library error that gets here is a bug.
    err << "vigil: internal error: " << e.message() << " (a bug: please report it)\n";
    return exit_internal;
  } catch (const std::bad_alloc&) {
    err << "vigil: out of memory\n";
    return exit_internal;
  } catch (const std::exception& e) {
    err << "vigil: internal error: " << e.what() << " (a bug: please report it)\n";
    return exit_internal;
  }
}

int run_cli(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) args.emplace_back(argv[i]);
  return run_cli(args, out, err);
}

}  // namespace vigil::tools
