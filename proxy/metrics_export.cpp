// Merges the workers' statistics and the endpoints' live state into
// Prometheus families at scrape time (control thread).
#include <map>
#include <sstream>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "proxy/admin.hpp"
#include "proxy/histogram_merge.hpp"
#include "proxy/server.hpp"

namespace infergate::proxy {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily metric_family(std::string name, std::string help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

namespace {

ClientMetric with_labels(std::vector<ClientMetric::Label> labels) {
    ClientMetric m;
    m.label = std::move(labels);
    return m;
}

MetricFamily histogram(std::string name, std::string help,
                       const std::vector<std::unique_ptr<Worker>>& workers,
                       const LatencyHistogram WorkerStats::*which) {
    MetricFamily f = metric_family(std::move(name), std::move(help), MetricType::Histogram);
    std::array<uint64_t, LatencyHistogram::kBounds.size() + 1> total{}, b{};
    uint64_t count = 0;
    double sum = 0;
    for (const auto& w : workers) {
        uint64_t c;
        double s;
        (w->stats().*which).read(b, c, s);
        for (size_t i = 0; i < b.size(); ++i) total[i] += b[i];
        count += c;
        sum += s;
    }
    ClientMetric m;
    m.histogram.sample_count = count;
    m.histogram.sample_sum = sum;
    uint64_t cum = 0;
    for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
        cum += total[i];
        m.histogram.bucket.push_back({cum, LatencyHistogram::kBounds[i]});
    }
    cum += total.back();
    m.histogram.bucket.push_back({cum, std::numeric_limits<double>::infinity()});
    f.metric.push_back(std::move(m));
    return f;
}

}  // namespace

std::string render_metrics(Server& server) {
    std::vector<MetricFamily> out = server.registry().Collect();
    const auto& workers = server.workers();

    MetricFamily req = metric_family("infergate_requests_total",
                              "Requests answered, by route, pool, endpoint and status",
                              MetricType::Counter);
    std::map<RequestKey, uint64_t> reqs;
    std::map<std::pair<std::string, std::string>, uint64_t> uerr;
    std::map<std::string, uint64_t> derr;
    uint64_t accepted = 0, rejected = 0, truncated = 0, shed = 0, up_opened = 0;
    int64_t open = 0;
    for (const auto& w : workers) {
        for (auto& [k, v] : w->stats().requests()) reqs[k] += v;
        for (auto& [k, v] : w->stats().upstream_errors()) uerr[k] += v;
        for (auto& [k, v] : w->stats().downstream_errors()) derr[k] += v;
        accepted += w->stats().connections_accepted.load();
        rejected += w->stats().connections_rejected.load();
        truncated += w->stats().streams_truncated.load();
        up_opened += w->stats().upstream_connections_opened.load();
        shed += w->stats().requests_shed.load();
        open += w->stats().connections_open.load();
    }
    for (auto& [k, v] : reqs) {
        ClientMetric m = with_labels({{"endpoint", k.endpoint},
                                      {"pool", k.pool},
                                      {"route", k.route},
                                      {"status", std::to_string(k.status)}});
        m.counter.value = static_cast<double>(v);
        req.metric.push_back(std::move(m));
    }
    out.push_back(std::move(req));

    out.push_back(histogram("infergate_request_duration_seconds",
                            "Time from request received to response complete", workers,
                            &WorkerStats::request_duration));
    out.push_back(histogram("infergate_time_to_first_byte_seconds",
                            "Time from request received to the upstream response head", workers,
                            &WorkerStats::time_to_first_byte));
    MergedHistogram<AddedLatencyHistogram> req_added, resp_added;
    for (const auto& w : workers) {
        req_added.add(w->stats().request_added_latency);
        resp_added.add(w->stats().response_added_latency);
    }
    MetricFamily ra = metric_family(
        "infergate_request_added_latency_seconds",
        "infergate's time from the last request byte parsed to the request handed to the upstream "
        "socket: body parsing, routing, picking, upstream connection or reuse, TLS handshake",
        MetricType::Histogram);
    ra.metric.push_back(req_added.metric());
    out.push_back(std::move(ra));
    MetricFamily rsa = metric_family(
        "infergate_response_added_latency_seconds",
        "infergate's time from the first response bytes read from the upstream to the first "
        "write of the response to the client completed",
        MetricType::Histogram);
    rsa.metric.push_back(resp_added.metric());
    out.push_back(std::move(rsa));

    MetricFamily ue = metric_family("infergate_upstream_errors_total",
                             "Upstream failures by endpoint and kind", MetricType::Counter);
    for (auto& [k, v] : uerr) {
        ClientMetric m = with_labels({{"endpoint", k.first}, {"kind", k.second}});
        m.counter.value = static_cast<double>(v);
        ue.metric.push_back(std::move(m));
    }
    out.push_back(std::move(ue));

    MetricFamily de = metric_family("infergate_downstream_errors_total",
                             "Client-side failures by kind", MetricType::Counter);
    for (auto& [k, v] : derr) {
        ClientMetric m = with_labels({{"kind", k}});
        m.counter.value = static_cast<double>(v);
        de.metric.push_back(std::move(m));
    }
    out.push_back(std::move(de));

    auto scalar = [&](std::string name, std::string help, MetricType t, double v) {
        MetricFamily f = metric_family(std::move(name), std::move(help), t);
        ClientMetric m;
        if (t == MetricType::Counter)
            m.counter.value = v;
        else
            m.gauge.value = v;
        f.metric.push_back(std::move(m));
        out.push_back(std::move(f));
    };
    scalar("infergate_connections_accepted_total", "Downstream connections accepted",
           MetricType::Counter, static_cast<double>(accepted));
    scalar("infergate_connections_rejected_total", "Connections refused over the per-worker cap",
           MetricType::Counter, static_cast<double>(rejected));
    scalar("infergate_connections_open", "Downstream connections open", MetricType::Gauge,
           static_cast<double>(open));
    scalar("infergate_streams_truncated_total",
           "Responses cut short because the upstream failed mid-body", MetricType::Counter,
           static_cast<double>(truncated));
    scalar("infergate_upstream_connections_opened_total",
           "Upstream connections established (TCP, and TLS where used); other requests reused a "
           "keep-alive connection",
           MetricType::Counter, static_cast<double>(up_opened));
    scalar("infergate_requests_shed_total",
           "Sheddable (negative-priority) requests answered 429 because their pool was saturated",
           MetricType::Counter, static_cast<double>(shed));
    scalar("infergate_draining", "1 while draining after SIGTERM", MetricType::Gauge,
           server.draining() ? 1 : 0);

    MetricFamily q = metric_family("infergate_endpoint_queue_size", "Scraped waiting requests per endpoint",
                            MetricType::Gauge);
    MetricFamily r = metric_family("infergate_endpoint_running_requests",
                            "Scraped running requests per endpoint", MetricType::Gauge);
    MetricFamily kv = metric_family("infergate_endpoint_kv_cache_usage",
                             "Scraped KV-cache utilisation (0-1) per endpoint", MetricType::Gauge);
    MetricFamily inf = metric_family("infergate_endpoint_in_flight",
                              "Requests infergate has in flight per endpoint", MetricType::Gauge);
    MetricFamily up = metric_family("infergate_endpoint_up",
                             "1 unless the endpoint refused connections", MetricType::Gauge);
    MetricFamily age = metric_family("infergate_endpoint_metrics_age_seconds",
                              "Age of the last good scrape per endpoint", MetricType::Gauge);
    auto now = picker::Clock::now();
    for (const RuntimePool& p : server.runtime().pools) {
        for (const auto& ep : p.picker->endpoints()) {
            auto labels = std::vector<ClientMetric::Label>{{"endpoint", ep->id()}, {"pool", p.cfg->name}};
            auto m = ep->metrics();
            ClientMetric c = with_labels(labels);
            c.gauge.value = m.waiting;
            q.metric.push_back(c);
            c.gauge.value = m.running;
            r.metric.push_back(c);
            c.gauge.value = m.kv_usage;
            kv.metric.push_back(c);
            c.gauge.value = static_cast<double>(ep->in_flight.load());
            inf.metric.push_back(c);
            c.gauge.value = ep->down.load() ? 0 : 1;
            up.metric.push_back(c);
            auto at = ep->scraped_at();
            c.gauge.value = at.time_since_epoch().count() == 0
                                ? std::numeric_limits<double>::infinity()
                                : std::chrono::duration<double>(now - at).count();
            age.metric.push_back(c);
        }
    }
    for (auto* f : {&q, &r, &kv, &inf, &up, &age}) out.push_back(std::move(*f));
    append_gie_metrics(server, out);
    append_tls_metrics(server, out);

    std::ostringstream os;
    prometheus::TextSerializer().Serialize(os, out);
    return os.str();
}

}  // namespace infergate::proxy
