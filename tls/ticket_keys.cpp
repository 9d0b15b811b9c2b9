#include "tls/ticket_keys.hpp"

#include <cstring>
#include <stdexcept>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace infergate::tls {

static int ex_index() {
    static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

static void fresh(TicketKeys::Key& k) {
    if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
        RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
        RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1)
        throw std::runtime_error("RAND_bytes failed making a session ticket key");
}

TicketKeys::TicketKeys(std::chrono::seconds period) : made_(std::chrono::steady_clock::now()), period_(period) {
    fresh(current_);
}

void TicketKeys::install(SSL_CTX* ctx) {
    SSL_CTX_set_ex_data(ctx, ex_index(), this);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeys::callback);
}

void TicketKeys::set_period(std::chrono::seconds period) {
    std::lock_guard lock(mu_);
    period_ = period;
}

uint64_t TicketKeys::rotations() const {
    std::lock_guard lock(mu_);
    return rotations_;
}

void TicketKeys::rotate_if_due(std::chrono::steady_clock::time_point now) {
    if (now - made_ < period_) return;
    Key next;
    try {
        fresh(next);
    } catch (const std::runtime_error&) {
        return;  // keep the current key; the next handshake tries again
    }
    previous_ = current_;
    has_previous_ = true;
    current_ = next;
    made_ = now;
    ++rotations_;
}

static int init_mac(EVP_MAC_CTX* hctx, const TicketKeys::Key& k) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k.hmac.data()),
                                          k.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params);
}

// OpenSSL's contract: on encryption fill key_name and iv and return 1; on
// decryption return 0 for an unknown key (full handshake), 1 to accept,
// 2 to accept and issue a fresh ticket; -1 on error.
int TicketKeys::callback(SSL* s, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx,
                         EVP_MAC_CTX* hctx, int enc) {
    auto* self = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ex_index()));
    if (!self) return -1;
    Key k;
    int result = 1;
    {
        std::lock_guard lock(self->mu_);
        self->rotate_if_due(std::chrono::steady_clock::now());
        if (enc) {
            k = self->current_;
        } else if (std::memcmp(key_name, self->current_.name.data(), 16) == 0) {
            k = self->current_;
        } else if (self->has_previous_ && std::memcmp(key_name, self->previous_.name.data(), 16) == 0) {
            k = self->previous_;
            result = 2;
        } else {
            return 0;
        }
    }
    const EVP_CIPHER* cipher = EVP_aes_256_cbc();
    if (enc) {
        std::memcpy(key_name, k.name.data(), 16);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1) return -1;
        if (EVP_EncryptInit_ex(cctx, cipher, nullptr, k.aes.data(), iv) != 1) return -1;
    } else if (EVP_DecryptInit_ex(cctx, cipher, nullptr, k.aes.data(), iv) != 1) {
        return -1;
    }
    if (init_mac(hctx, k) != 1) return -1;
    return result;
}

}  // namespace infergate::tls
