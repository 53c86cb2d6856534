// Tests of tools/options.hpp: the command table, usage texts and option parsing.
#include "../../tools/options.hpp"

#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {

vigil::tools::Options replay_options(const std::vector<std::string>& options) {
  std::vector<std::string> args{"vigil", "replay"};
  args.insert(args.end(), options.begin(), options.end());
  return vigil::tools::Options(vigil::tools::replay_command(), args, 2);
}

// The message of the usage Failure that parsing `options` throws.
std::string usage_failure(const std::vector<std::string>& options) {
  try {
    replay_options(options);
  } catch (const vigil::tools::Failure& e) {
    CHECK(e.usage());
    return e.what();
  }
  FAIL("no Failure");
  return {};
}

}  // namespace

TEST_CASE("Options: no options", "[cli]") {
  const vigil::tools::Options options = replay_options({});
  CHECK_FALSE(options.has("input"));
  CHECK_FALSE(options.get("input"));
  CHECK(options.list("tag-columns").empty());
  CHECK(&options.command() == &vigil::tools::replay_command());
}

TEST_CASE("Options: values, flags and lists", "[cli]") {
  const vigil::tools::Options options =
      replay_options({"--input", "traffic.csv", "--interval=30", "--tag-columns", " host , ,model ", "-h"});
  CHECK(options.get("input") == "traffic.csv");
  CHECK(options.required("input") == "traffic.csv");
  CHECK(options.get("interval") == "30");
  CHECK(options.list("tag-columns") == std::vector<std::string>{"host", "model"});
  CHECK(options.has("help"));
  CHECK(options.get("help") == "");
  // A value may itself start with one dash.
  CHECK(replay_options({"--horizon", "-5"}).get("horizon") == "-5");
  CHECK(replay_options({"--alerts="}).get("alerts") == "");
}

TEST_CASE("Options: bad command lines are usage failures that name the argument", "[cli]") {
  CHECK(usage_failure({"traffic.csv"}) == "unexpected argument 'traffic.csv' for 'vigil replay'");
  CHECK(usage_failure({"--colour", "red"}) == "unknown option '--colour' for 'vigil replay'");
  CHECK(usage_failure({"--help=yes"}) == "option '--help' takes no value");
  CHECK(usage_failure({"--input"}) == "option '--input' needs a value (FILE)");
  CHECK(usage_failure({"--input", "--alerts", "a"}) == "option '--input' needs a value (FILE)");
  CHECK(usage_failure({"--input", "a", "--input=b"}) == "option '--input' is given twice");
  const vigil::tools::Options empty = replay_options({"--alerts="});
  CHECK_THROWS_WITH(empty.required("alerts"), "'vigil replay' needs --alerts");
  CHECK_THROWS_WITH(empty.required("input"), "'vigil replay' needs --input");
}

TEST_CASE("commands and their usage texts", "[cli]") {
  CHECK(vigil::tools::find_command("profile") == &vigil::tools::profile_command());
  CHECK(vigil::tools::find_command("replay") == &vigil::tools::replay_command());
  CHECK(vigil::tools::find_command("merge") == &vigil::tools::merge_command());
  CHECK(vigil::tools::find_command("report") == &vigil::tools::report_command());
  CHECK(vigil::tools::find_command("reprot") == nullptr);
  CHECK(vigil::tools::general_usage().find("  profile   build a training reference") != std::string::npos);
  CHECK(vigil::tools::general_usage().find("  merge     add up the snapshots") != std::string::npos);
  for (const vigil::tools::Command* command : {&vigil::tools::profile_command(), &vigil::tools::replay_command(),
                                               &vigil::tools::merge_command(), &vigil::tools::report_command()}) {
    const std::string usage = vigil::tools::usage_of(*command);
    CHECK(usage.rfind(std::string("usage: vigil ") + command->name, 0) == 0);
    for (const vigil::tools::OptionSpec& o : command->options) {
      INFO(o.name);
      // "  --name VALUE" padded to the help text's column, or two spaces after a long one.
      std::string left = std::string("  --") + o.name + (o.value ? std::string(" ") + o.value : std::string());
      left += left.size() < 28 ? std::string(28 - left.size(), ' ') : std::string("  ");
      CHECK(usage.find("\n" + left + o.help + "\n") != std::string::npos);
    }
  }
}

TEST_CASE("join", "[cli]") {
  CHECK(vigil::tools::join({}) == "");
  CHECK(vigil::tools::join({"a"}) == "a");
  CHECK(vigil::tools::join({"a", "b", "c"}) == "a, b, c");
  CHECK(vigil::tools::join({"a", "b"}, "|") == "a|b");
}
