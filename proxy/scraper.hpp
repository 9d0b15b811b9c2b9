// Polls every endpoint's metrics page on the control thread and publishes
// what the picker scores (queue, running, KV usage) into EndpointState.
//
// One coroutine per endpoint, all concurrent, each on its own keep-alive
// connection, speaking HTTP through the same codec as the data path. A
// scrape that fails or times out marks the endpoint's metrics failed (the
// picker then treats them as stale); a refused connection marks the
// endpoint down, and any good scrape brings it back.
//
// Not thread-safe: used from the control thread only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "proxy/runtime.hpp"

namespace infergate::proxy {

class Scraper {
public:
    explicit Scraper(boost::asio::io_context& ioc) : ioc_(ioc) {}
    ~Scraper();
    // Starts scraping endpoints new in `rt`, stops those no longer in it,
    // and restarts those whose pool settings changed.
    void update(const Runtime& rt);
    void stop();

    struct Target;

private:
    boost::asio::io_context& ioc_;
    std::map<std::string, std::shared_ptr<Target>> targets_;
};

}  // namespace infergate::proxy
