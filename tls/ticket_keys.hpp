// Session-ticket keys of one listener, kept in memory only and rotated.
//
// Tickets let a client resume a session without server-side state. Their
// keys never touch disk; a new key is made every `period` (the listener's
// session_timeout), and the previous one is kept for decryption, so a
// ticket stays usable for at least one period. A ticket under the
// previous key is accepted and renewed under the current one.
//
// Threads: the callback runs on whichever worker does the handshake; the
// keys sit behind a mutex held only to copy 80 bytes (a handshake costs
// far more), and survive certificate reloads, so resumption does too.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

#include <openssl/ssl.h>

namespace infergate::tls {

class TicketKeys {
public:
    explicit TicketKeys(std::chrono::seconds period);
    TicketKeys(const TicketKeys&) = delete;
    TicketKeys& operator=(const TicketKeys&) = delete;

    // Installs the ticket callback on `ctx`; this object must outlive it.
    void install(SSL_CTX* ctx);
    void set_period(std::chrono::seconds period);
    // For tests: rotations so far.
    uint64_t rotations() const;

    struct Key {
        std::array<unsigned char, 16> name;
        std::array<unsigned char, 32> aes;   // AES-256-CBC
        std::array<unsigned char, 32> hmac;  // HMAC-SHA256
    };

private:
    static int callback(SSL* s, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx,
                        EVP_MAC_CTX* hctx, int enc);
    // Under mu_: rotates when the current key is older than the period.
    void rotate_if_due(std::chrono::steady_clock::time_point now);

    mutable std::mutex mu_;
    Key current_{};
    Key previous_{};
    bool has_previous_ = false;
    std::chrono::steady_clock::time_point made_;
    std::chrono::seconds period_;
    uint64_t rotations_ = 0;
};

}  // namespace infergate::tls
