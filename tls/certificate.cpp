#include "tls/certificate.hpp"

#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/x509err.h>
#include <openssl/x509v3.h>

#include "tls/openssl_util.hpp"

namespace infergate::tls {

std::string take_errors(const std::string& fallback) {
    std::string out;
    char buf[256];
    while (unsigned long e = ERR_get_error()) {
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? fallback : out;
}

std::string file_error(const config::FileRef& f, const std::string& msg, config::Mark& where) {
    where = f.mark;
    return fmt::format("{}: {}", f.key, msg);
}

std::string subject_text(X509* cert) {
    if (!cert) return {};
    BIO* bio = BIO_new(BIO_s_mem());
    if (!bio) return {};
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, n > 0 ? static_cast<size_t>(n) : 0);
    BIO_free(bio);
    return out;
}

static int64_t to_unix(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<int64_t>(timegm(&tm));
}

static std::vector<std::string> dns_names(X509* cert) {
    std::vector<std::string> out;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (!names) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_DNS) continue;
        const ASN1_IA5STRING* s = g->d.dNSName;
        std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
        for (char& c : name)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        out.push_back(std::move(name));
    }
    GENERAL_NAMES_free(names);
    return out;
}

std::string load_certificate(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                             CertificateInfo& info) {
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
        return fmt::format("cannot load certificate chain '{}': {}", cert_file, take_errors());
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        // OpenSSL checks the pair as it loads the key.
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            return fmt::format("private key '{}' does not match certificate '{}'", key_file, cert_file);
        }
        return fmt::format("cannot load private key '{}': {}", key_file, take_errors());
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return fmt::format("private key '{}' does not match certificate '{}'", key_file, cert_file);
    }
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    if (!leaf) return fmt::format("'{}' holds no certificate", cert_file);
    info.cert_file = cert_file;
    info.subject = subject_text(leaf);
    info.dns_names = dns_names(leaf);
    info.not_after = to_unix(X509_get0_notAfter(leaf));
    info.not_before = to_unix(X509_get0_notBefore(leaf));
    // A certificate no client would accept is refused here, so that a
    // reload keeps the one in service instead.
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
        return fmt::format("certificate '{}' ({}) expired at {}", cert_file, info.subject,
                           fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(info.not_after))));
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
        return fmt::format("certificate '{}' ({}) is not valid before {}", cert_file, info.subject,
                           fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(info.not_before))));
    return {};
}

}  // namespace infergate::tls
