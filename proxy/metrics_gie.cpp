// The Gateway API Inference Extension's metric names, so dashboards built
// for GIE / llm-d's endpoint picker work on infergate unchanged. Names,
// types, labels, buckets and meanings follow llm-d-router at ebab687927f5:
// pkg/epp/metrics/metrics.go (inference_objective_*, inference_pool_*,
// inference_extension_scheduler_e2e_duration_seconds) and, for
// inference_objective_request_ttft_seconds, pkg/epp/framework/plugins/
// requestcontrol/dataproducer/predictedlatency/metrics.go. The pool gauges
// are computed as pkg/epp/datalayer/logger/logger.go does: over the
// endpoints whose metrics are fresh. The prefix indexer's metrics follow
// pkg/epp/framework/plugins/requestcontrol/dataproducer/approximateprefix/
// metrics.go (see append_prefix_index_metrics). Help texts are the
// reference's without its "[ALPHA] [Deprecated: Use llm_d_epp_...]"
// prefix: infergate exports these names only, not the llm_d_epp_ ones.
#include <array>
#include <limits>
#include <map>
#include <set>

#include <prometheus/metric_family.h>

#include "proxy/admin.hpp"
#include "proxy/histogram_merge.hpp"
#include "proxy/server.hpp"

namespace infergate::proxy {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

template <class H>
using Merged = MergedHistogram<H>;

struct ModelPair {
    uint64_t requests = 0;
    std::array<uint64_t, static_cast<size_t>(GieError::count)> errors{};
    Merged<GieLatencyHistogram> duration, ttft;
    Merged<GieInputTokenHistogram> input;
    Merged<GieOutputTokenHistogram> output;
    Merged<GieNtpotHistogram> ntpot;
};

// inference_extension_prefix_indexer_size and _hit_ratio, unlabelled as
// in the reference. The reference's producers all write the same unlabelled
// series (the last writer wins); infergate sums over every distinct index
// of the current runtime's pools instead, each index counted once however
// many producers share it. Only the current runtime is read, so an index
// kept across a reload is not counted for the old configuration too. Both
// families are present once some pool has an index (the reference's gauge
// appears when its producer starts; its histogram at the first lookup).
// Not exported: _hit_bytes (the index keeps no per-lookup length buckets).
void append_prefix_index_metrics(const Runtime& runtime, std::vector<MetricFamily>& out) {
    std::set<const void*> seen;
    uint64_t size = 0, lookups = 0;
    std::array<uint64_t, picker::PrefixIndexStats::kBuckets> le{};
    double sum = 0;
    for (const RuntimePool& pool : runtime.pools) {
        const picker::Scheduler* s = pool.picker->scheduler();
        if (!s) continue;
        for (const picker::PrefixIndexStats& st : picker::prefix_index_stats(*s)) {
            if (!seen.insert(st.index).second) continue;
            size += st.size_blocks;
            lookups += st.lookups;
            for (size_t k = 0; k < le.size(); ++k) le[k] += st.ratio_le[k];
            sum += st.ratio_sum;
        }
    }
    if (seen.empty()) return;
    MetricFamily sz = metric_family("inference_extension_prefix_indexer_size", "Size of the prefix indexer.",
                             MetricType::Gauge);
    ClientMetric g;
    g.gauge.value = static_cast<double>(size);
    sz.metric.push_back(std::move(g));
    MetricFamily hr = metric_family("inference_extension_prefix_indexer_hit_ratio",
                             "Ratio of prefix length matched to total prefix length in the cache lookup.",
                             MetricType::Histogram);
    ClientMetric h;
    h.histogram.sample_count = lookups;
    h.histogram.sample_sum = sum;
    for (size_t k = 0; k < le.size(); ++k) h.histogram.bucket.push_back({le[k], static_cast<double>(k) / 10.0});
    h.histogram.bucket.push_back({lookups, std::numeric_limits<double>::infinity()});
    hr.metric.push_back(std::move(h));
    out.push_back(std::move(sz));
    out.push_back(std::move(hr));
}

}  // namespace

void append_gie_metrics(Server& server, std::vector<MetricFamily>& out) {
    using Pair = std::pair<std::string, std::string>;
    std::map<Pair, ModelPair> pairs;
    std::map<std::tuple<std::string, std::string, int>, uint64_t> requests;
    std::map<std::string, int64_t> running;
    Merged<GieSchedulerHistogram> sched;
    for (const auto& w : server.workers()) {
        sched.add(w->stats().scheduler_e2e);
        for (const auto& [k, s] : w->stats().gie_series()) {
            ModelPair& p = pairs[{k.model, k.target}];
            uint64_t n = s->requests.load(std::memory_order_relaxed);
            p.requests += n;
            if (n) requests[{k.model, k.target, k.priority}] += n;
            for (size_t i = 0; i < p.errors.size(); ++i)
                p.errors[i] += s->errors[i].load(std::memory_order_relaxed);
            running[k.model] += s->running.load(std::memory_order_relaxed);
            p.duration.add(s->duration);
            p.ttft.add(s->ttft);
            p.input.add(s->input_tokens);
            p.output.add(s->output_tokens);
            p.ntpot.add(s->ntpot);
        }
    }

    MetricFamily req = metric_family("inference_objective_request_total",
                              "Counter of inference objective requests broken out for each model and target model.",
                              MetricType::Counter);
    for (const auto& [k, n] : requests) {
        ClientMetric m;
        m.label = {{"model_name", std::get<0>(k)}, {"priority", std::to_string(std::get<2>(k))},
                   {"target_model_name", std::get<1>(k)}};
        m.counter.value = static_cast<double>(n);
        req.metric.push_back(std::move(m));
    }
    MetricFamily err = metric_family("inference_objective_request_error_total",
                              "Counter of inference objective requests errors broken out for each model and target model.",
                              MetricType::Counter);
    MetricFamily dur = metric_family("inference_objective_request_duration_seconds",
                              "Inference objective response latency distribution in seconds for each model and target model.",
                              MetricType::Histogram);
    MetricFamily in = metric_family("inference_objective_input_tokens",
                             "Inference objective input token count distribution for requests in each model.",
                             MetricType::Histogram);
    MetricFamily outp = metric_family("inference_objective_output_tokens",
                               "Inference objective output token count distribution for requests in each model.",
                               MetricType::Histogram);
    MetricFamily ttft = metric_family("inference_objective_request_ttft_seconds",
                               "Inference model TTFT distribution in seconds for each model and target model: from request received to the first response body bytes.",
                               MetricType::Histogram);
    MetricFamily ntpot = metric_family("inference_objective_normalized_time_per_output_token_seconds",
                                "Inference objective latency divided by number of output tokens in seconds for each model and target model.",
                                MetricType::Histogram);
    for (const auto& [k, p] : pairs) {
        std::vector<ClientMetric::Label> labels{{"model_name", k.first}, {"target_model_name", k.second}};
        for (size_t i = 0; i < p.errors.size(); ++i) {
            if (!p.errors[i]) continue;
            ClientMetric m;
            m.label = {{"error_code", std::string(gie_error_name(static_cast<GieError>(i)))},
                       labels[0], labels[1]};
            m.counter.value = static_cast<double>(p.errors[i]);
            err.metric.push_back(std::move(m));
        }
        if (p.duration.count) dur.metric.push_back(p.duration.metric(labels));
        if (p.input.count) in.metric.push_back(p.input.metric(labels));
        if (p.output.count) outp.metric.push_back(p.output.metric(labels));
        if (p.ttft.count) ttft.metric.push_back(p.ttft.metric(labels));
        if (p.ntpot.count) ntpot.metric.push_back(p.ntpot.metric(labels));
    }
    MetricFamily run = metric_family("inference_objective_running_requests",
                              "Inference objective number of running requests in each model.",
                              MetricType::Gauge);
    for (const auto& [model, n] : running) {
        if (model.empty()) continue;  // as the reference: no series for requests without a model
        ClientMetric m;
        m.label = {{"model_name", model}};
        m.gauge.value = static_cast<double>(n);
        run.metric.push_back(std::move(m));
    }

    MetricFamily kv = metric_family("inference_pool_average_kv_cache_utilization",
                             "The average kv cache utilization for an inference server pool.",
                             MetricType::Gauge);
    MetricFamily q = metric_family("inference_pool_average_queue_size",
                            "The average number of requests pending in the model server queue.",
                            MetricType::Gauge);
    MetricFamily ready = metric_family("inference_pool_ready_pods",
                                "The number of ready pods in the inference server pool.", MetricType::Gauge);
    auto now = picker::Clock::now();
    for (const RuntimePool& pool : server.runtime().pools) {
        size_t fresh = 0;
        double kv_sum = 0, q_sum = 0;
        for (const auto& ep : pool.picker->endpoints()) {
            if (!ep->fresh(now, pool.cfg->metrics_staleness)) continue;
            auto m = ep->metrics();
            ++fresh;
            kv_sum += m.kv_usage;
            q_sum += m.waiting;
        }
        ClientMetric m;
        m.label = {{"name", pool.cfg->name}};
        m.gauge.value = static_cast<double>(fresh);
        ready.metric.push_back(m);
        // The reference leaves the averages at their last value when no
        // endpoint is fresh; infergate, computing at scrape time, omits them.
        if (fresh == 0) continue;
        m.gauge.value = kv_sum / static_cast<double>(fresh);
        kv.metric.push_back(m);
        m.gauge.value = q_sum / static_cast<double>(fresh);
        q.metric.push_back(m);
    }

    MetricFamily sch = metric_family("inference_extension_scheduler_e2e_duration_seconds",
                              "End-to-end scheduling latency distribution in seconds.", MetricType::Histogram);
    sch.metric.push_back(sched.metric({}));

    for (auto* f : {&req, &err, &dur, &in, &outp, &ttft, &ntpot, &run, &kv, &q, &ready, &sch})
        out.push_back(std::move(*f));
    append_prefix_index_metrics(server.runtime(), out);
}

}  // namespace infergate::proxy
