// session-affinity-scorer, the reference's default strategy
// (llm-d-router ebab687927f5,
// pkg/epp/framework/plugins/scheduling/scorer/sessionaffinity/session_affinity.go,
// encoded_endpoint_header.go, and ../util/sessionaffinity/header.go).
//
// encoded_endpoint_header: the response carries the chosen endpoint's
// token, base64("host:port") (the reference encodes the pod's
// namespace/name), in a header (default x-session-token). A client that
// sends it back gets 1.0 for that endpoint and 0 for the others, so the
// session sticks while the other scorers' weights allow. The token is
// compared as sent, without decoding: infergate issued it, and a token
// that is not one of ours simply matches no endpoint.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "picker/builtin_plugins.hpp"

namespace infergate::picker {

void SessionAffinityScorer::score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                                  std::span<double> out) const {
    const std::string_view token = req.header(header_);
    for (size_t i = 0; i < candidates.size(); ++i)
        out[i] = !token.empty() && candidates[i]->token() == token ? 1.0 : 0.0;
}

std::unique_ptr<Plugin> make_session_affinity_scorer(const config::PluginSpec& spec, ParamReader& params) {
    const config::Node* strategy_node = params.raw("strategy");
    const config::Node* profile_node = params.raw("profileName");
    const std::string strategy = strategy_node ? strategy_node->scalar : "encoded_endpoint_header";
    const std::string profile = profile_node ? profile_node->scalar : "";
    ParamReader enc = params.object("encodedEndpointHeaderConfig");
    std::string header = enc.string("header", "");
    enc.finish();
    // sessionIdConfig belongs to the session_id strategy; read it only so
    // that it is not reported as unknown before the strategy error.
    params.raw("sessionIdConfig");
    if (strategy == "session_id") {
        params.error(strategy_node->mark, fmt::format("plugin '{}': strategy 'session_id' of session-affinity-scorer is "
                                                "not supported yet (use 'encoded_endpoint_header')",
                                                plugin_name(spec)));
        return nullptr;
    }
    if (strategy != "encoded_endpoint_header" || (strategy_node && strategy_node->kind != config::Node::Kind::scalar)) {
        params.error(strategy_node->mark, fmt::format("plugin '{}': strategy must be 'encoded_endpoint_header' or "
                                                "'session_id', got '{}'", plugin_name(spec), strategy));
        return nullptr;
    }
    if (!profile.empty()) {
        // profileName picks another profile's result (P/D); infergate runs
        // one profile only.
        params.error(profile_node->mark, fmt::format("plugin '{}': profileName is for multi-profile (P/D) setups, "
                                                "which are not supported yet", plugin_name(spec)));
        return nullptr;
    }
    // Reference NormalizeHeader: trimmed, lower-cased, default when empty.
    auto b = header.find_first_not_of(" \t");
    auto e = header.find_last_not_of(" \t");
    header = b == std::string::npos ? std::string() : header.substr(b, e - b + 1);
    std::transform(header.begin(), header.end(), header.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (header.empty()) header = "x-session-token";
    return std::make_unique<SessionAffinityScorer>(plugin_name(spec), std::move(header));
}

}  // namespace infergate::picker
