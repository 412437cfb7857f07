#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet {
namespace {

const char* kSmall = R"(# comment
[net]
width=8
height=8
channels=3

[conv]
filters=4
size=3
stride=1
pad=1
activation=leaky
)";

TEST(CfgParser, ParsesSectionsAliasesAndLines) {
  Cfg cfg = parse_cfg_text(kSmall, "small.cfg");
  ASSERT_EQ(cfg.sections.size(), 2u);
  EXPECT_EQ(cfg.sections[0].type, "net");
  EXPECT_EQ(cfg.sections[1].type, "convolutional");
  EXPECT_EQ(cfg.sections[1].raw_type, "conv");
  EXPECT_EQ(cfg.sections[1].line, 7);
  EXPECT_EQ(cfg.sections[1].get_int("filters", 0), 4);
  EXPECT_EQ(cfg.sections[1].find("activation")->line, 12);
}

TEST(CfgParser, ListsIgnoreWhitespaceAndTrailingComma) {
  Cfg cfg = parse_cfg_text("[net]\nwidth=1\n[route]\nlayers = -1, -7,\nanchors= 1.5, 2 , 3\n", "x.cfg");
  EXPECT_EQ(cfg.sections[1].get_ints("layers"), (std::vector<int>{-1, -7}));
  EXPECT_EQ(cfg.sections[1].get_floats("anchors"), (std::vector<float>{1.5f, 2.0f, 3.0f}));
}

TEST(CfgParser, MalformedValueNamesFileLineAndKey) {
  Cfg cfg = parse_cfg_text("[net]\nwidth=8\n[conv]\nfilters=abc\n", "bad.cfg");
  EXPECT_ERROR_CONTAINS(cfg.sections[1].get_int("filters", 0), "bad.cfg:4:");
  EXPECT_ERROR_CONTAINS(cfg.sections[1].get_int("filters", 0), "expected an integer");
}

TEST(CfgParser, MalformedLinesAndHeaders) {
  EXPECT_ERROR_CONTAINS(parse_cfg_text("[net]\nwidth\n", "a.cfg"), "a.cfg:2: expected 'key=value'");
  EXPECT_ERROR_CONTAINS(parse_cfg_text("[net\nwidth=1\n", "a.cfg"), "a.cfg:1: section header");
  EXPECT_ERROR_CONTAINS(parse_cfg_text("width=1\n[net]\n", "a.cfg"), "a.cfg:1: option");
  EXPECT_ERROR_CONTAINS(parse_cfg_text("[conv]\nsize=1\n", "a.cfg"), "first section must be [net]");
  EXPECT_ERROR_CONTAINS(parse_cfg_text("# nothing\n", "a.cfg"), "no sections");
}

TEST(CfgParser, UnknownSectionIsAnError) {
  Cfg cfg = parse_cfg_text("[net]\nwidth=8\nheight=8\n[convolutinal]\nfilters=1\n", "u.cfg");
  EXPECT_ERROR_CONTAINS(Network::from_cfg(cfg), "u.cfg:4: unknown section [convolutinal]");
}

TEST(CfgParser, UnknownKeyIsAnErrorUnlessLenient) {
  Cfg cfg = parse_cfg_text("[net]\nwidth=8\nheight=8\n[conv]\nfilters=2\nfliters=3\nsize=1\n", "k.cfg");
  EXPECT_ERROR_CONTAINS(Network::from_cfg(cfg), "k.cfg:6: [conv] key 'fliters' is not known");
  NetworkOptions lenient;
  lenient.lenient = true;
  Cfg cfg2 = parse_cfg_text("[net]\nwidth=8\nheight=8\n[conv]\nfilters=2\nfliters=3\nsize=1\n", "k.cfg");
  Network net = Network::from_cfg(cfg2, lenient);
  EXPECT_EQ(net.layer(0).output_shape.c, 2);
}

TEST(CfgParser, DuplicateKeyIsAnErrorUnlessLenientThenFirstWins) {
  const char* text = "[net]\nwidth=8\nheight=8\n[conv]\nfilters=2\nfilters=5\n";
  EXPECT_ERROR_CONTAINS(Network::from_cfg(parse_cfg_text(text, "d.cfg")),
                        "d.cfg:6: [conv] duplicate key 'filters' (first set on line 5)");
  NetworkOptions lenient;
  lenient.lenient = true;
  Network net = Network::from_cfg(parse_cfg_text(text, "d.cfg"), lenient);
  EXPECT_EQ(net.layer(0).output_shape.c, 2);
}

TEST(CfgParser, UnknownActivationIsAnErrorNotRelu) {
  Cfg cfg = parse_cfg_text("[net]\nwidth=8\nheight=8\n[conv]\nfilters=2\nactivation=mihs\n", "a.cfg");
  EXPECT_ERROR_CONTAINS(Network::from_cfg(cfg), "a.cfg:6:");
  EXPECT_ERROR_CONTAINS(Network::from_cfg(cfg), "unknown activation 'mihs'");
}

TEST(CfgParser, MissingFileIsNamed) {
  EXPECT_ERROR_CONTAINS(parse_cfg_file("/nonexistent/x.cfg"), "/nonexistent/x.cfg: cannot open");
}

}  // namespace
}  // namespace mishnet
