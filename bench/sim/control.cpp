#include "bench/sim/control.hpp"

#include <functional>
#include <string_view>

#include <fmt/format.h>
#include <simdjson.h>

#include "bench/sim/openai.hpp"

namespace infergate::sim {
namespace od = simdjson::ondemand;

namespace {

using FieldFn = std::function<bool(std::string_view key, od::value v)>;

// Walks the top-level object of `body`, calling `fn` for each field.
bool for_each_field(const std::string& body, const FieldFn& fn, std::string& error) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) return true;  // no body = {}
    thread_local od::parser parser;
    if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
        error = "internal: body not padded";
        return false;
    }
    simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
    od::document doc;
    od::object obj;
    if (parser.iterate(view).get(doc) || doc.get_object().get(obj)) {
        error = "body must be a JSON object";
        return false;
    }
    for (auto f : obj) {
        std::string_view key;
        od::value v;
        if (f.unescaped_key().get(key) || f.value().get(v)) return error = "invalid JSON", false;
        if (!fn(key, v)) {
            error = fmt::format("invalid value for '{}'", key);
            return false;
        }
    }
    const char* rest = nullptr;
    if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) return error = "invalid JSON", false;
    return true;
}

bool null_value(od::value& v) {
    od::json_type t;
    return !v.type().get(t) && t == od::json_type::null;
}

bool read_u32(od::value v, std::uint32_t& out) {
    std::uint64_t n = 0;
    if (v.get_uint64().get(n) || n > UINT32_MAX) return false;
    out = static_cast<std::uint32_t>(n);
    return true;
}

}  // namespace

bool parse_hold(const std::string& body, bool& hold, std::string& error) {
    bool value = false;
    bool seen = false;
    const bool ok = for_each_field(body, [&](std::string_view key, od::value v) {
        if (key != "hold") return true;
        seen = true;
        return !v.get_bool().get(value);
    }, error);
    if (!ok) return false;
    if (!seen) return error = "'hold' (boolean) is required", false;
    hold = value;
    return true;
}

bool parse_load(const std::string& body, LoadOverride& out, std::string& error) {
    LoadOverride load;
    const bool ok = for_each_field(body, [&](std::string_view key, od::value v) {
        if (key == "waiting") return null_value(v) || read_u32(v, load.waiting);
        if (key == "running") return null_value(v) || read_u32(v, load.running);
        if (key == "kv_usage") {
            if (null_value(v)) return true;
            double d = 0;
            if (v.get_double().get(d) || d < 0 || d > 1) return false;
            load.kv_usage = d;
        }
        return true;
    }, error);
    if (ok) out = load;
    return ok;
}

bool parse_delay(const std::string& body, std::uint32_t& ms, std::string& error) {
    std::uint32_t value = 0;
    const bool ok = for_each_field(body, [&](std::string_view key, od::value v) {
        if (key != "response_header_ms") return true;
        return null_value(v) || read_u32(v, value);
    }, error);
    if (ok) ms = value;
    return ok;
}

std::string stats_body(const SimStats& s) {
    std::string out = fmt::format(
        R"({{"requests":{},"running":{},"waiting":{},"held":{},"completed":{},)"
        R"("prefix_cache_hits":{},"prefix_cache_queries":{},)"
        R"("tls_handshakes":{{"full":{},"resumed":{},"failed":{}}},"models":{{)",
        s.requests, s.running, s.waiting, s.held, s.completed, s.prefix_cache_hits,
        s.prefix_cache_queries, s.tls.full, s.tls.resumed, s.tls.failed);
    for (std::size_t i = 0; i < s.models.size() && i < s.model_requests.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, s.models[i]);
        out += fmt::format(":{}", s.model_requests[i]);
    }
    out += "}}";
    return out;
}

}  // namespace infergate::sim
