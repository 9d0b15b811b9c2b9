// TLS metrics, merged from the workers and the control thread's
// certificates at scrape time.
#include <ctime>

#include <prometheus/metric_family.h>

#include "proxy/admin.hpp"
#include "proxy/server.hpp"

namespace infergate::proxy {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

static ClientMetric counter(std::vector<ClientMetric::Label> labels, uint64_t v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = static_cast<double>(v);
    return m;
}

void append_tls_metrics(Server& server, std::vector<MetricFamily>& out) {
    const auto& workers = server.workers();
    constexpr size_t kReasons = static_cast<size_t>(tls::Failure::count_);
    uint64_t hs[2][2] = {}, up[2] = {};
    uint64_t fail[kReasons] = {}, upfail[kReasons] = {};
    for (const auto& w : workers) {
        WorkerStats& s = w->stats();
        for (int v = 0; v < 2; ++v)
            for (int r = 0; r < 2; ++r) hs[v][r] += s.tls_handshakes[v][r].load(std::memory_order_relaxed);
        for (int r = 0; r < 2; ++r) up[r] += s.upstream_tls_handshakes[r].load(std::memory_order_relaxed);
        for (size_t i = 0; i < kReasons; ++i) {
            fail[i] += s.tls_failures[i].load(std::memory_order_relaxed);
            upfail[i] += s.upstream_tls_failures[i].load(std::memory_order_relaxed);
        }
    }
    const char* versions[] = {"TLSv1.2", "TLSv1.3"};
    const char* yes_no[] = {"false", "true"};
    MetricFamily h = metric_family("infergate_tls_handshakes_total",
                            "Client TLS handshakes completed, by protocol version and session resumption",
                            MetricType::Counter);
    for (int v = 0; v < 2; ++v)
        for (int r = 0; r < 2; ++r) h.metric.push_back(counter({{"resumed", yes_no[r]}, {"version", versions[v]}}, hs[v][r]));
    out.push_back(std::move(h));
    MetricFamily f = metric_family("infergate_tls_handshake_failures_total", "Client TLS handshakes that failed, by reason",
                            MetricType::Counter);
    for (size_t i = 0; i < kReasons; ++i) f.metric.push_back(counter({{"reason", tls::kFailureNames[i]}}, fail[i]));
    out.push_back(std::move(f));
    MetricFamily uh = metric_family("infergate_upstream_tls_handshakes_total",
                             "TLS handshakes with endpoints, by session resumption", MetricType::Counter);
    for (int r = 0; r < 2; ++r) uh.metric.push_back(counter({{"resumed", yes_no[r]}}, up[r]));
    out.push_back(std::move(uh));
    MetricFamily uf = metric_family("infergate_upstream_tls_handshake_failures_total",
                             "TLS handshakes with endpoints that failed, by reason", MetricType::Counter);
    for (size_t i = 0; i < kReasons; ++i) uf.metric.push_back(counter({{"reason", tls::kFailureNames[i]}}, upfail[i]));
    out.push_back(std::move(uf));

    const TlsListeners* tl = server.tls_listeners();
    if (!tl) return;
    MetricFamily exp = metric_family("infergate_tls_certificate_expiry_seconds",
                              "Seconds until each served certificate expires (negative: expired)", MetricType::Gauge);
    const auto now = static_cast<int64_t>(std::time(nullptr));
    for (const auto& e : tl->entries()) {
        if (!e.current) continue;
        for (const tls::CertificateInfo& c : e.current->certificates()) {
            ClientMetric m;
            m.label = {{"cert_file", c.cert_file}, {"listener", e.name}, {"subject", c.subject}};
            m.gauge.value = static_cast<double>(c.not_after - now);
            exp.metric.push_back(std::move(m));
        }
    }
    out.push_back(std::move(exp));
    MetricFamily rl = metric_family("infergate_tls_certificate_reloads_total",
                             "Certificate reloads after a file change, by result (SIGHUP reloads count as config "
                             "reloads)",
                             MetricType::Counter);
    rl.metric.push_back(counter({{"result", "ok"}}, tl->reloads_ok()));
    rl.metric.push_back(counter({{"result", "failed"}}, tl->reloads_failed()));
    out.push_back(std::move(rl));
}

}  // namespace infergate::proxy
