// YAML -> Node: 1-based marks, duplicate keys, syntax errors, aliases.
#include <doctest/doctest.h>

#include "config/yaml_tree.hpp"
#include "helpers.hpp"

using namespace infergate::config;

TEST_CASE("marks are 1-based for keys and values") {
    std::vector<ConfigError> errors;
    auto root = parse_yaml("a: 1\nb:\n  - x\n  - \"y\"\n", "f.yaml", errors);
    REQUIRE(root);
    CHECK(errors.empty());
    REQUIRE(root->kind == Node::Kind::map);
    CHECK(root->key_marks[0].line == 1);
    CHECK(root->key_marks[0].col == 1);
    const Node* a = root->find("a");
    REQUIRE(a);
    CHECK(a->mark.file == "f.yaml");
    CHECK(a->mark.line == 1);
    CHECK(a->mark.col == 4);
    CHECK_FALSE(a->quoted);
    const Node* b = root->find("b");
    REQUIRE(b);
    REQUIRE(b->items.size() == 2);
    CHECK(b->items[1].mark.line == 4);
    CHECK(b->items[1].mark.col == 5);
    CHECK(b->items[1].quoted);
    CHECK(root->find("c") == nullptr);
}

TEST_CASE("duplicate keys are reported at the second occurrence") {
    std::vector<ConfigError> errors;
    auto root = parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml", errors);
    REQUIRE(root);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].to_string() == "f.yaml:3:1: duplicate key 'a' (first at line 1, column 1)");
    CHECK(root->find("a")->scalar == "1");  // the first one is kept
}

TEST_CASE("duplicate keys in a flow map") {
    std::vector<ConfigError> errors;
    auto root = parse_yaml("labels: {x: 1, x: 2}\n", "f.yaml", errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].to_string() == "f.yaml:1:16: duplicate key 'x' (first at line 1, column 10)");
}

TEST_CASE("syntax errors carry a 1-based mark") {
    std::vector<ConfigError> errors;
    auto root = parse_yaml("a: [1, 2\nb: 3\n", "f.yaml", errors);
    CHECK_FALSE(root);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message.rfind("YAML syntax error: ", 0) == 0);
    CHECK(errors[0].mark.line >= 1);
    CHECK(errors[0].mark.col >= 1);
}

TEST_CASE("anchors and aliases are rejected") {
    std::vector<ConfigError> errors;
    auto root = parse_yaml("a: &x 1\nb: *x\n", "f.yaml", errors);
    CHECK_FALSE(root);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].to_string() == "f.yaml:1:4: YAML anchors (&x) are not supported: write the value out");
    CHECK(errors[1].to_string() == "f.yaml:2:4: YAML aliases (*name) are not supported: write the value out");
}

TEST_CASE("one document only; empty text is null") {
    std::vector<ConfigError> errors;
    CHECK_FALSE(parse_yaml("a: 1\n---\nb: 2\n", "f.yaml", errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message.find("only one YAML document") != std::string::npos);
    CHECK(errors[0].mark.line == 2);
    errors.clear();
    auto empty = parse_yaml("", "f.yaml", errors);
    REQUIRE(empty);
    CHECK(empty->kind == Node::Kind::null);
    CHECK(errors.empty());
}

TEST_CASE("non-string map keys are rejected") {
    std::vector<ConfigError> errors;
    auto root = parse_yaml("? [a, b]\n: 1\n", "f.yaml", errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message == "map keys must be strings");
}

TEST_CASE("a syntax error through the loader") {
    auto r = cfgtest::load("listeners:\n  - name: main\n   address: x\n");
    CHECK_FALSE(r.ok());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].mark.file == "t.yaml");
    CHECK(r.errors[0].message.find("YAML syntax error") == 0);
}
