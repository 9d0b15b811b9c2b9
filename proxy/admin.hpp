// The admin listener (control thread): /metrics, /healthz, /readyz,
// /debug/endpoints. Separate port from traffic; not for the internet.
#pragma once

#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace infergate::proxy {

class Server;

boost::asio::awaitable<void> serve_admin(Server& server, boost::asio::ip::tcp::socket socket);

// Prometheus text exposition of everything infergate measures.
std::string render_metrics(Server& server);

// An empty family (metrics_export.cpp), for the appenders below.
prometheus::MetricFamily metric_family(std::string name, std::string help, prometheus::MetricType type);

// Appends the Gateway API Inference Extension's families (metrics_gie.cpp).
void append_gie_metrics(Server& server, std::vector<prometheus::MetricFamily>& out);
// TLS handshakes, failures and certificate expiry (metrics_tls.cpp).
void append_tls_metrics(Server& server, std::vector<prometheus::MetricFamily>& out);

// JSON: every endpoint with its last metrics, their age, in-flight count
// and last score.
std::string render_debug_endpoints(const Server& server);

}  // namespace infergate::proxy
