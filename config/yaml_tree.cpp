// Builds config::Node from yaml-cpp parser events.
#include "config/yaml_tree.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <sstream>
#include <utility>

namespace infergate::config {
namespace {

class TreeBuilder final : public YAML::EventHandler {
public:
    TreeBuilder(const std::string& file, std::vector<ConfigError>& errors)
        : file_(file), errors_(errors) {}

    bool has_root() const { return has_root_; }
    Node take_root() { return std::move(root_); }
    // A structural problem (anchor, alias) that makes the tree unusable.
    bool fatal() const { return fatal_; }
    const Mark& document_mark() const { return doc_mark_; }

    void OnDocumentStart(const YAML::Mark& m) override { doc_mark_ = to_mark(m); }
    void OnDocumentEnd() override {}

    void OnNull(const YAML::Mark& m, YAML::anchor_t) override {
        Node n;
        n.mark = to_mark(m);
        add(std::move(n));
    }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override {
        fail(to_mark(m), "YAML aliases (*name) are not supported: write the value out");
        OnNull(m, 0);
    }
    void OnAnchor(const YAML::Mark& m, const std::string& name) override {
        fail(to_mark(m), fmt::format("YAML anchors (&{}) are not supported: write the value out", name));
    }
    void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                  const std::string& value) override {
        Node n;
        n.kind = Node::Kind::scalar;
        n.scalar = value;
        n.quoted = tag != "?";  // "?" is yaml-cpp's tag for a plain scalar
        n.mark = to_mark(m);
        add(std::move(n));
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        open(Node::Kind::sequence, m);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        open(Node::Kind::map, m);
    }
    void OnMapEnd() override { close(); }

private:
    // A collection under construction; maps alternate key, value.
    struct Frame {
        Node node;
        bool have_key = false;
        bool key_ok = false;
        std::string key;
        Mark key_mark;
    };

    Mark to_mark(const YAML::Mark& m) const {
        if (m.is_null()) return Mark{file_, 0, 0};
        return Mark{file_, m.line + 1, m.column + 1};
    }
    void fail(Mark m, std::string msg) {
        fatal_ = true;
        errors_.push_back(ConfigError{std::move(m), std::move(msg)});
    }
    void open(Node::Kind kind, const YAML::Mark& m) {
        Frame f;
        f.node.kind = kind;
        f.node.mark = to_mark(m);
        stack_.push_back(std::move(f));
    }
    void close() {
        Node n = std::move(stack_.back().node);
        stack_.pop_back();
        add(std::move(n));
    }
    void add(Node n) {
        if (stack_.empty()) {
            root_ = std::move(n);
            has_root_ = true;
            return;
        }
        Frame& f = stack_.back();
        if (f.node.kind == Node::Kind::sequence) {
            f.node.items.push_back(std::move(n));
            return;
        }
        if (!f.have_key) {
            f.have_key = true;
            f.key_mark = n.mark;
            f.key_ok = n.kind == Node::Kind::scalar;
            if (f.key_ok) f.key = std::move(n.scalar);
            else errors_.push_back({n.mark, "map keys must be strings"});
            return;
        }
        f.have_key = false;
        if (!f.key_ok) return;
        for (size_t i = 0; i < f.node.entries.size(); ++i) {
            if (f.node.entries[i].first != f.key) continue;
            const Mark& first = f.node.key_marks[i];
            errors_.push_back({f.key_mark, fmt::format("duplicate key '{}' (first at line {}, column {})",
                                                       f.key, first.line, first.col)});
            return;  // keep the first occurrence so validation can go on
        }
        f.node.entries.emplace_back(std::move(f.key), std::move(n));
        f.node.key_marks.push_back(f.key_mark);
    }

    const std::string& file_;
    std::vector<ConfigError>& errors_;
    std::vector<Frame> stack_;
    Node root_;
    bool has_root_ = false;
    bool fatal_ = false;
    Mark doc_mark_;
};

}  // namespace

std::optional<Node> parse_yaml(const std::string& text, const std::string& file,
                               std::vector<ConfigError>& errors) {
    std::istringstream in(text);
    try {
        YAML::Parser parser(in);
        TreeBuilder builder(file, errors);
        if (!parser.HandleNextDocument(builder)) {
            Node empty;
            empty.mark = Mark{file, 1, 1};
            return empty;
        }
        if (builder.fatal()) return std::nullopt;
        Node root = builder.take_root();
        TreeBuilder extra(file, errors);
        if (parser.HandleNextDocument(extra)) {
            errors.push_back({extra.document_mark(), "only one YAML document is allowed (found a second '---')"});
            return std::nullopt;
        }
        return root;
    } catch (const YAML::Exception& e) {
        Mark m{file, 0, 0};
        if (!e.mark.is_null()) m = Mark{file, e.mark.line + 1, e.mark.column + 1};
        errors.push_back({m, fmt::format("YAML syntax error: {}", e.msg)});
    } catch (const std::exception& e) {
        errors.push_back({Mark{file, 0, 0}, fmt::format("YAML syntax error: {}", e.what())});
    }
    return std::nullopt;
}

bool read_text_file(const std::string& path, std::string& out, std::string& why) {
    constexpr size_t max_size = 16u << 20;
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) {
        why = std::strerror(errno);
        return false;
    }
    out.clear();
    char buf[64 * 1024];
    for (;;) {
        size_t n = std::fread(buf, 1, sizeof buf, f.get());
        out.append(buf, n);
        if (out.size() > max_size) {
            why = "file is too large (more than 16 MiB)";
            return false;
        }
        if (n < sizeof buf) break;
    }
    if (std::ferror(f.get())) {
        why = std::strerror(errno);  // e.g. EISDIR for a directory
        return false;
    }
    return true;
}

}  // namespace infergate::config
