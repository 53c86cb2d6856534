// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The options of the `vigil` program (docs/cli.md): the table of commands and their options,
// the usage texts made from it, the parsing of `--name value` arguments, and the one-line
// failures that end the program with exit code 2.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vigil::tools {

/// Exit codes of the program.
inline constexpr int exit_ok = 0;        ///< done (alerts or not)
inline constexpr int exit_internal = 1;  ///< a failure inside the program or library: a bug (or no memory)
inline constexpr int exit_input = 2;     ///< bad input: options, files, columns, values

/// A failure reported to the user as one line, with exit code 2; `usage()` asks for the
/// command's usage text after it.
class Failure : public std::runtime_error {
 public:
  Failure(const std::string& what, bool usage) : std::runtime_error(what), usage_(usage) {}
  bool usage() const { return usage_; }

 private:
  bool usage_;
};

/// Throws a Failure: a file, a column or a value the user named is wrong.
[[noreturn]] void fail(const std::string& what);
/// Throws a Failure followed by the usage text: the command line itself is wrong.
[[noreturn]] void usage_error(const std::string& what);

/// One option of a command, for parsing and for the usage text.
struct OptionSpec {
  const char* name;   ///< without the leading `--`
  const char* value;  ///< what the value is, for the usage text; nullptr for a flag
  const char* help;
};

/// A command of the program: its name, the usage text's synopsis and summary, its options.
struct Command {
  const char* name;
  const char* synopsis;
  const char* summary;
  std::vector<OptionSpec> options;
  /// What the arguments that are not options are (`vigil merge`'s snapshots), or nullptr
  /// when the command takes none.
  const char* operands = nullptr;
};

/// `vigil profile`.
const Command& profile_command();
/// `vigil replay`.
const Command& replay_command();
/// `vigil merge`.
const Command& merge_command();
/// `vigil report`.
const Command& report_command();
/// The command called `name`, or nullptr.
const Command* find_command(const std::string& name);

/// `vigil --help`: the commands.
std::string general_usage();
/// `vigil <command> --help`: the synopsis, the summary and one line per option.
std::string usage_of(const Command& command);

/// The parsed options of one command: `--name value` or `--name=value`; `-h` is `--help`.
///
/// An argument that is not an option (unless the command takes operands), an option the
/// command does not have, a value given to
/// a flag, an option without its value or given twice throw a usage Failure naming it.
class Options {
 public:
  /// Parses `args[first..]` for `command`. O(arguments × options).
  Options(const Command& command, const std::vector<std::string>& args, std::size_t first);

  const Command& command() const { return *command_; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;
  /// The value of an option the command cannot go without; a usage Failure if it is absent
  /// or empty.
  std::string required(const std::string& name) const;
  /// A comma-separated list; blanks around names are dropped, as are empty names.
  std::vector<std::string> list(const std::string& name) const;
  /// The arguments that are not options, in order (Command::operands).
  const std::vector<std::string>& operands() const { return operands_; }

 private:
  const OptionSpec& spec_of(const std::string& name) const;
  void set(const std::string& name, const std::string& value);

  const Command* command_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> operands_;
};

/// `items` separated by `separator`: "a, b, c".
std::string join(const std::vector<std::string>& items, const char* separator = ", ");

}  // namespace vigil::tools
