"""A throwaway PKI for tests and scripts: a root CA, an optional intermediate
and leaf certificates shaped like those a public CA issues, so the TLS code
is exercised with what it meets in production rather than bare self-signed
certificates. Python standard library plus the `openssl` command (3.0+).

    import pki
    ca = pki.CA(dir)                               # dir/ca.crt, dir/ca.key
    crt, key = ca.server_cert("sim", dns=["sim.test"], ips=["127.0.0.1"])
    crt, key = ca.server_cert("edge", dns=["edge.test"], chain=True)
    crt, key = ca.client_cert("tenant-a")
    crt, key = ca.expired_cert("old", dns=["sim.test"])
    wrong = ca.mismatched_key("wrong")             # a key matching no cert
    pki.sans(crt)      -> ["DNS:sim.test", "IP Address:127.0.0.1"]
    pki.key_matches(crt, key) -> bool

CA(dir, name="infergate test CA", key="ec256")
    Creates dir (if needed) and a self-signed root valid 10 years:
    ca.cert / ca.key are the paths of dir/ca.crt and dir/ca.key. The root
    is basicConstraints CA:TRUE (pathlen 1), keyUsage keyCertSign+cRLSign.
ca.intermediate() -> (cert_path, key_path)
    The intermediate CA (pathlen 0), created on first use; files
    dir/intermediate.crt and dir/intermediate.key.
ca.server_cert(name, dns=(), ips=(), key="ec256", days=90, chain=False)
    -> (cert_path, key_path) = dir/<name>.crt, dir/<name>.key.
    extendedKeyUsage serverAuth; subjectAltName from dns and ips (at least
    one required); subject CN is the first DNS name (or the first IP).
    chain=True issues from the intermediate and writes leaf, then
    intermediate, into the cert file (what a server must send).
ca.client_cert(cn, dns=(), key="ec256", days=90, chain=False)
    -> (cert_path, key_path); extendedKeyUsage clientAuth, subject CN=cn,
    subjectAltName only if dns is given.
ca.expired_cert(name, dns=(), ips=(), key="ec256", client=False)
    -> (cert_path, key_path); valid from 30 days ago until 1 day ago.
ca.mismatched_key(name, key="ec256") -> key_path
    A fresh key, dir/<name>.key, that matches no certificate.

Every leaf: valid at most 397 days (the CA/Browser Forum limit; longer
raises ValueError), notBefore backdated one hour (tolerates clock skew, as
public CAs do), basicConstraints CA:FALSE, keyUsage digitalSignature (plus
keyEncipherment for RSA), subject/authority key identifiers, a random
128-bit serial, and a CRL distribution point URI:http://127.0.0.1:9/ca.crl
(never served: port 9 is discard; verifiers that do not fetch CRLs ignore
it, and a test that turns CRL checking on sees a real-looking extension).
key is "ec256" (P-256, fast, the default) or "rsa2048".

Issuing goes through a minimal `openssl ca` configuration so start and end
dates can be set freely (OpenSSL 3.0's `x509 -req` cannot backdate). The
state (index, serial, CSRs) lives in dir/.pki. A CA object is not thread-safe.

Command line:
    python3 pki.py --selftest      builds a PKI in a temp dir, verifies it
                                   with `openssl verify`, prints the SANs
    python3 pki.py --out DIR [--dns NAME]... [--ip ADDR]... [--key rsa2048]
                                   writes ca.crt, server.crt/.key (leaf +
                                   intermediate chain) and client.crt/.key
"""

import datetime
import os
import re
import secrets
import subprocess
import sys
import tempfile

CRL_URI = "http://127.0.0.1:9/ca.crl"
MAX_LEAF_DAYS = 397
KEY_TYPES = ("ec256", "rsa2048")

_CA_CONF = """\
[ ca ]
default_ca = pki_ca

[ pki_ca ]
database = {state}/index.txt
new_certs_dir = {state}/issued
serial = {state}/serial
default_md = sha256
policy = pki_policy
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = yes

[ pki_policy ]
organizationName = optional
commonName = supplied
"""

_REQ_CONF = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
"""


def _run(args, **kw):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({r.returncode}):\n"
                           f"{r.stdout}{r.stderr}")
    return r.stdout


def _asn1_time(t):
    return t.strftime("%Y%m%d%H%M%SZ")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _check_name(name):
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"pki: file name {name!r} must be [A-Za-z0-9._-]+")


def _dn_value(s):
    # openssl -subj syntax: / and + separate RDNs and AVAs.
    return re.sub(r"([/+\\])", r"\\\1", s)


def gen_key(path, key="ec256"):
    """Writes a new PKCS#8 PEM private key (mode 0600) to path."""
    if key == "ec256":
        algo = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-pkeyopt", "ec_param_enc:named_curve"]
    elif key == "rsa2048":
        algo = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    else:
        raise ValueError(f"pki: key must be one of {KEY_TYPES}, not {key!r}")
    _run(["genpkey", *algo, "-out", path])
    os.chmod(path, 0o600)
    return path


def sans(cert_path):
    """The subjectAltName entries of the first certificate in cert_path,
    as openssl prints them: ["DNS:a.test", "IP Address:127.0.0.1"]."""
    out = _run(["x509", "-in", cert_path, "-noout", "-ext", "subjectAltName"])
    lines = [l.strip() for l in out.splitlines()[1:] if l.strip()]
    return [s.strip() for l in lines for s in l.split(",")]


def key_matches(cert_path, key_path):
    """True when key_path is the private key of cert_path's (first) cert."""
    a = _run(["x509", "-in", cert_path, "-noout", "-pubkey"])
    b = _run(["pkey", "-in", key_path, "-pubout"])
    return a == b


def verify(ca_cert, cert_path, purpose=None):
    """Runs `openssl verify -x509_strict` on the leaf in cert_path, taking
    the intermediates from the same file. Returns (ok, output)."""
    args = ["openssl", "verify", "-x509_strict", "-CAfile", ca_cert,
            "-untrusted", cert_path]
    if purpose:
        args += ["-purpose", purpose]
    r = subprocess.run([*args, cert_path], capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


class CA:
    """A root CA in dir (see the module docstring)."""

    def __init__(self, dir, name="infergate test CA", key="ec256"):
        self.dir = os.path.abspath(dir)
        self.name = name
        self.key_type = key
        self._state = os.path.join(self.dir, ".pki")
        os.makedirs(os.path.join(self._state, "issued"), exist_ok=True)
        self._conf = os.path.join(self._state, "ca.cnf")
        with open(self._conf, "w") as f:
            f.write(_CA_CONF.format(state=self._state))
        with open(os.path.join(self._state, "req.cnf"), "w") as f:
            f.write(_REQ_CONF)
        open(os.path.join(self._state, "index.txt"), "w").close()
        self._inter = None
        self.cert = os.path.join(self.dir, "ca.crt")
        self.key = os.path.join(self.dir, "ca.key")
        gen_key(self.key, key)
        now = _now()
        self._sign(None, self.key, self.cert, f"/O=infergate tests/CN={_dn_value(name)}",
                   self._ca_ext(pathlen=1, root=True),
                   now - datetime.timedelta(hours=1),
                   now + datetime.timedelta(days=3650))

    # ---- public API -----------------------------------------------------

    def intermediate(self):
        if self._inter is None:
            crt = os.path.join(self.dir, "intermediate.crt")
            key = gen_key(os.path.join(self.dir, "intermediate.key"), self.key_type)
            now = _now()
            self._sign((self.cert, self.key), key, crt,
                       f"/O=infergate tests/CN={_dn_value(self.name)} intermediate",
                       self._ca_ext(pathlen=0, root=False),
                       now - datetime.timedelta(hours=1),
                       now + datetime.timedelta(days=1825))
            self._inter = (crt, key)
        return self._inter

    def server_cert(self, name, dns=(), ips=(), key="ec256", days=90, chain=False):
        return self._leaf(name, dns, ips, key, days, chain, client=False)

    def client_cert(self, cn, dns=(), key="ec256", days=90, chain=False):
        return self._leaf(cn, dns, (), key, days, chain, client=True)

    def expired_cert(self, name, dns=(), ips=(), key="ec256", client=False):
        now = _now()
        return self._leaf(name, dns, ips, key, None, False, client,
                          window=(now - datetime.timedelta(days=30),
                                  now - datetime.timedelta(days=1)))

    def mismatched_key(self, name, key="ec256"):
        _check_name(name)
        return gen_key(os.path.join(self.dir, name + ".key"), key)

    # ---- internals ------------------------------------------------------

    def _leaf(self, name, dns, ips, key, days, chain, client, window=None):
        _check_name(name)
        dns, ips = list(dns), list(ips)
        if not client and not (dns or ips):
            raise ValueError("pki: a server certificate needs a DNS or IP name")
        if window is None:
            if not 1 <= days <= MAX_LEAF_DAYS:
                raise ValueError(f"pki: leaf validity {days} days outside 1..{MAX_LEAF_DAYS}")
            now = _now()
            window = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days))
        cn = name if client else (dns[0] if dns else ips[0])
        issuer = self.intermediate() if chain else (self.cert, self.key)
        crt = os.path.join(self.dir, name + ".crt")
        k = gen_key(os.path.join(self.dir, name + ".key"), key)
        san = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
        ku = "digitalSignature" + (", keyEncipherment" if key == "rsa2048" else "")
        ext = [
            "basicConstraints = critical, CA:FALSE",
            f"keyUsage = critical, {ku}",
            f"extendedKeyUsage = {'clientAuth' if client else 'serverAuth'}",
            "subjectKeyIdentifier = hash",
            "authorityKeyIdentifier = keyid:always",
            f"crlDistributionPoints = URI:{CRL_URI}",
        ]
        if san:
            ext.append("subjectAltName = " + ", ".join(san))
        self._sign(issuer, k, crt, f"/O=infergate tests/CN={_dn_value(cn)}", ext, *window)
        if chain:
            with open(crt, "a") as out, open(issuer[0]) as inter:
                out.write(inter.read())
        return crt, k

    @staticmethod
    def _ca_ext(pathlen, root):
        ext = [
            f"basicConstraints = critical, CA:TRUE, pathlen:{pathlen}",
            "keyUsage = critical, keyCertSign, cRLSign",
            "subjectKeyIdentifier = hash",
        ]
        if not root:
            ext += ["authorityKeyIdentifier = keyid:always",
                    f"crlDistributionPoints = URI:{CRL_URI}"]
        return ext

    def _sign(self, issuer, key, out, subj, ext, not_before, not_after):
        """Issues out for key's public key; issuer None means self-signed."""
        base = os.path.join(self._state, os.path.basename(out))
        csr, extfile = base + ".csr", base + ".ext"
        _run(["req", "-new", "-config", os.path.join(self._state, "req.cnf"),
              "-key", key, "-subj", subj, "-out", csr])
        with open(extfile, "w") as f:
            f.write("[ ext ]\n" + "\n".join(ext) + "\n")
        serial = os.path.join(self._state, "serial")
        with open(serial, "w") as f:   # random 127-bit serial, as public CAs use
            f.write("%032X\n" % (secrets.randbits(127) | 1 << 120))
        args = ["ca", "-batch", "-notext", "-config", self._conf, "-in", csr,
                "-out", out, "-extfile", extfile, "-extensions", "ext",
                "-startdate", _asn1_time(not_before), "-enddate", _asn1_time(not_after)]
        if issuer is None:
            args += ["-selfsign", "-keyfile", key]
        else:
            args += ["-cert", issuer[0], "-keyfile", issuer[1]]
        _run(args)


def _selftest():
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="pki-selftest-") as d:
        for ca_key in KEY_TYPES:
            ca = CA(os.path.join(d, ca_key), key=ca_key)
            check(verify(ca.cert, ca.cert)[0], f"{ca_key} root verifies")
            cases = [
                ("server", ca.server_cert("server", dns=["sim.test", "*.sim.test"],
                                          ips=["127.0.0.1", "::1"]), "sslserver"),
                ("server-rsa", ca.server_cert("server-rsa", dns=["sim.test"],
                                              key="rsa2048"), "sslserver"),
                ("chained", ca.server_cert("chained", dns=["edge.test"], chain=True),
                 "sslserver"),
                ("client", ca.client_cert("tenant-a"), "sslclient"),
                ("client-chained", ca.client_cert("tenant-b", chain=True), "sslclient"),
            ]
            for what, (crt, key), purpose in cases:
                ok, out = verify(ca.cert, crt, purpose)
                check(ok, f"{ca_key} {what} verifies ({purpose}): {out.strip()}")
                check(key_matches(crt, key), f"{ca_key} {what} key matches")
                print(f"     SANs: {sans(crt)}")
            crt, _ = ca.server_cert("chain-count", dns=["x.test"], chain=True)
            with open(crt) as f:
                check(f.read().count("BEGIN CERTIFICATE") == 2, "chain file holds 2 certs")
            ok, _ = verify(ca.cert, ca.server_cert("s2", dns=["x.test"])[0], "sslclient")
            check(not ok, "server cert refused for client purpose")
            crt, key = ca.expired_cert("expired", dns=["sim.test"])
            ok, out = verify(ca.cert, crt, "sslserver")
            check(not ok and "expired" in out, "expired cert refused as expired")
            wrong = ca.mismatched_key("wrong")
            check(not key_matches(crt, wrong), "mismatched key does not match")
            text = _run(["x509", "-in", ca.server_cert("s3", dns=["y.test"])[0],
                         "-noout", "-text"])
            check(CRL_URI in text, "leaf carries the CRL distribution point")
            check("TLS Web Server Authentication" in text, "leaf has EKU serverAuth")
            try:
                ca.server_cert("toolong", dns=["z.test"], days=398)
                check(False, "398-day leaf refused")
            except ValueError:
                check(True, "398-day leaf refused")
    print("selftest " + ("FAILED: " + "; ".join(failures) if failures else "passed"))
    return 1 if failures else 0


def _main(argv):
    import argparse
    p = argparse.ArgumentParser(description="Throwaway test PKI (see module docstring).")
    p.add_argument("--selftest", action="store_true")
    p.add_argument("--out", help="directory to write ca.crt, server.*, client.* into")
    p.add_argument("--dns", action="append", default=[])
    p.add_argument("--ip", action="append", default=[])
    p.add_argument("--key", choices=KEY_TYPES, default="ec256")
    a = p.parse_args(argv)
    if a.selftest:
        return _selftest()
    if not a.out:
        p.error("--selftest or --out DIR")
    ca = CA(a.out, key=a.key)
    dns = a.dns or ([] if a.ip else ["localhost"])
    ips = a.ip or ["127.0.0.1"]
    for path in (*ca.server_cert("server", dns=dns, ips=ips, key=a.key, chain=True),
                 *ca.client_cert("client", key=a.key), ca.cert):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
