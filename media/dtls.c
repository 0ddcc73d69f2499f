/* dtls.c — sans-IO DTLS-SRTP over OpenSSL; see dtls.h for the design and the RFCs.
 *
 * The SSL object talks to a custom BIO that keeps datagrams in memory: a read returns the
 * one datagram being fed (then "retry"), and every write OpenSSL makes is queued as one
 * datagram, preserving the record boundaries that a plain memory BIO would merge.
 */
#include "media/dtls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define RTO_INITIAL_US 200000u
#define RTO_MAX_US 6400000u
#define HANDSHAKE_LIMIT_US 30000000u
#define OUT_QUEUE 32 /* a flight is a few datagrams; more than this is dropped like loss */

struct dc_dtls_identity {
  gint refs;
  SSL_CTX *ctx;
  char fingerprint[16 + 3 * EVP_MAX_MD_SIZE];
};

struct dc_dtls {
  SSL *ssl;
  dc_dtls_identity *id;
  dc_dtls_state state;
  char error[192];
  const EVP_MD *peer_md;
  uint8_t peer_fp[EVP_MAX_MD_SIZE];
  unsigned peer_fp_len;
  bool fingerprint_mismatch;
  const uint8_t *in; /* the datagram being fed, for the BIO read */
  size_t in_len;
  uint8_t *out[OUT_QUEUE];
  size_t out_len[OUT_QUEUE];
  unsigned out_head, out_count;
  uint64_t sent_total; /* datagrams OpenSSL wrote so far: tells whether a call sent a flight */
  uint64_t call;       /* counts calls into OpenSSL; a flight is what one call wrote */
  uint64_t flight_call;
  GPtrArray *flight;   /* GBytes: our last flight, resent as is on timeout */
  bool server;
  uint64_t last_final_resend_us;
  uint8_t *polled;     /* last datagram handed out, freed on the next poll */
  uint64_t started_us, retransmit_at, rto_us;
};

/* ---------- the datagram BIO ---------- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void queue_datagram(dc_dtls *d, const void *data, size_t len) {
  if (d->out_count == OUT_QUEUE) /* never expected; behave like a lost datagram */
    return;
  unsigned slot = (d->out_head + d->out_count) % OUT_QUEUE;
  d->out[slot] = g_memdup2(data, len);
  d->out_len[slot] = len;
  d->out_count++;
}

static int bio_write(BIO *b, const char *data, int len) {
  dc_dtls *d = BIO_get_data(b);
  if (len <= 0)
    return 0;
  if (d->flight_call != d->call) { /* the first datagram of a new flight */
    g_ptr_array_set_size(d->flight, 0);
    d->flight_call = d->call;
  }
  g_ptr_array_add(d->flight, g_bytes_new(data, (gsize)len));
  queue_datagram(d, data, (size_t)len);
  d->sent_total++;
  return len;
}

static void resend_flight(dc_dtls *d) {
  for (guint i = 0; i < d->flight->len; i++) {
    gsize len;
    const void *data = g_bytes_get_data(g_ptr_array_index(d->flight, i), &len);
    queue_datagram(d, data, len);
  }
}

static int bio_read(BIO *b, char *buf, int size) {
  dc_dtls *d = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (!d->in) {
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = d->in_len < (size_t)size ? d->in_len : (size_t)size;
  memcpy(buf, d->in, n);
  d->in = NULL;
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num, (void)ptr;
  dc_dtls *d = BIO_get_data(b);
  switch (cmd) {
  case BIO_CTRL_FLUSH: return 1;
  case BIO_CTRL_PENDING: return d && d->in ? (long)d->in_len : 0;
  case BIO_CTRL_WPENDING: return 0;
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_DGRAM_GET_FALLBACK_MTU: return DC_DTLS_MTU;
  default: return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void make_bio_method(void) {
  bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "diemcau datagrams");
  BIO_meth_set_write(bio_method, bio_write);
  BIO_meth_set_read(bio_method, bio_read);
  BIO_meth_set_ctrl(bio_method, bio_ctrl);
  BIO_meth_set_create(bio_method, bio_create);
}

/* ---------- identity ---------- */

static void fingerprint_hex(const uint8_t *md, unsigned len, char *out) {
  for (unsigned i = 0; i < len; i++)
    sprintf(out + 3 * i, i + 1 < len ? "%02X:" : "%02X", md[i]);
}

static int verify_peer(int preverify_ok, X509_STORE_CTX *store);

dc_dtls_identity *dc_dtls_identity_new(const char *common_name, GError **error) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = X509_new();
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  dc_dtls_identity *id = NULL;
  const char *what = "generate the P-256 key";
  if (!key || !cert || !ctx)
    goto fail;
  what = "make the certificate";
  uint8_t serial[8];
  if (RAND_bytes(serial, sizeof serial) != 1)
    goto fail;
  serial[0] &= 0x7F; /* a positive serial number */
  BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
  bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  X509_NAME *name = X509_get_subject_name(cert);
  ok = ok && X509_set_version(cert, 2) &&
       X509_gmtime_adj(X509_getm_notBefore(cert), -24 * 3600) &&
       X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600) &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
                                  -1, -1, 0) &&
       X509_set_issuer_name(cert, name) && X509_set_pubkey(cert, key) &&
       X509_sign(cert, key, EVP_sha256()) > 0;
  if (!ok)
    goto fail;
  what = "set up the DTLS context";
  /* GCM first: the server's order decides (RFC 5764 §4.1.1), and GCM is both cheaper per
   * packet and 6 bytes shorter than HMAC-SHA1-80 + AES-CM on a highland link. The DTLS
   * suites are AEAD only (no CBC-SHA1): RFC 8827 §6.5 makes ECDHE-ECDSA-AES128-GCM-SHA256
   * mandatory for every WebRTC endpoint, and our identity is ECDSA. */
  ok = SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) &&
       SSL_CTX_use_certificate(ctx, cert) && SSL_CTX_use_PrivateKey(ctx, key) &&
       SSL_CTX_check_private_key(ctx) &&
       SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") == 0 &&
       SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384") &&
       SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
  if (!ok)
    goto fail;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_peer);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION);

  id = g_new0(dc_dtls_identity, 1);
  id->refs = 1;
  id->ctx = ctx;
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned md_len;
  X509_digest(cert, EVP_sha256(), md, &md_len);
  strcpy(id->fingerprint, "sha-256 ");
  fingerprint_hex(md, md_len, id->fingerprint + 8);
  X509_free(cert); /* the context keeps its own references */
  EVP_PKEY_free(key);
  return id;
fail:
  g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_FAILED, "DTLS identity: could not %s: %s", what,
              ERR_reason_error_string(ERR_peek_last_error()) ?: "OpenSSL gave no reason");
  ERR_clear_error();
  SSL_CTX_free(ctx);
  X509_free(cert);
  EVP_PKEY_free(key);
  return NULL;
}

dc_dtls_identity *dc_dtls_identity_ref(dc_dtls_identity *id) {
  g_atomic_int_inc(&id->refs);
  return id;
}

void dc_dtls_identity_unref(dc_dtls_identity *id) {
  if (id && g_atomic_int_dec_and_test(&id->refs)) {
    SSL_CTX_free(id->ctx);
    g_free(id);
  }
}

const char *dc_dtls_identity_fingerprint(const dc_dtls_identity *id) { return id->fingerprint; }

/* ---------- the peer's fingerprint ---------- */

static bool parse_fingerprint(dc_dtls *d, const char *text, GError **error) {
  static const struct {
    const char *sdp, *ossl;
  } hashes[] = {{"sha-256", "SHA256"}, {"sha-384", "SHA384"}, {"sha-512", "SHA512"}};
  /* SHA-1 (and SHA-224) are refused: Chromium, Firefox and webrtcbin all write sha-256
   * (tests/unit/fixtures/sdp), and a fingerprint is the only thing that authenticates the
   * peer's self-signed certificate. */
  if (!text)
    goto bad;
  while (*text == ' ')
    text++;
  const char *sp = strchr(text, ' ');
  if (!sp)
    goto bad;
  for (size_t i = 0; i < G_N_ELEMENTS(hashes); i++)
    if ((size_t)(sp - text) == strlen(hashes[i].sdp) &&
        g_ascii_strncasecmp(text, hashes[i].sdp, strlen(hashes[i].sdp)) == 0)
      d->peer_md = EVP_get_digestbyname(hashes[i].ossl);
  if (!d->peer_md) {
    g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_UNSUPPORTED,
                "fingerprint hash \"%.*s\" is not one of sha-256, sha-384, sha-512",
                (int)MIN(sp - text, 16), text);
    return false;
  }
  const char *p = sp + 1;
  unsigned want = (unsigned)EVP_MD_get_size(d->peer_md), n = 0;
  while (*p == ' ')
    p++;
  while (n < want && g_ascii_isxdigit(p[0]) && g_ascii_isxdigit(p[1])) {
    d->peer_fp[n++] = (uint8_t)(g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
    p += 2;
    if (*p == ':' && n < want)
      p++;
  }
  while (*p == ' ' || *p == '\r' || *p == '\n')
    p++;
  if (n != want || *p != '\0')
    goto bad;
  d->peer_fp_len = n;
  return true;
bad:
  g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_INVALID,
              "malformed fingerprint: expected \"<hash> XX:XX:...\" as in a=fingerprint");
  return false;
}

static bool fingerprint_matches(dc_dtls *d, X509 *cert) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  return cert && X509_digest(cert, d->peer_md, md, &len) && len == d->peer_fp_len &&
         CRYPTO_memcmp(md, d->peer_fp, len) == 0;
}

/* Certificates are self-signed: the only check that counts is the SDP fingerprint of the
 * leaf (depth 0). Rejecting here aborts the handshake with an alert. */
static int verify_peer(int preverify_ok, X509_STORE_CTX *store) {
  (void)preverify_ok;
  SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  dc_dtls *d = SSL_get_app_data(ssl);
  if (X509_STORE_CTX_get_error_depth(store) != 0)
    return 1;
  if (!fingerprint_matches(d, X509_STORE_CTX_get_current_cert(store))) {
    d->fingerprint_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  return 1;
}

/* OpenSSL's retransmission timer reads the wall clock, and once it has expired OpenSSL also
 * retransmits from inside every read that finds no data. An hour-long timer keeps it from
 * ever firing: retransmission is ours (resend_flight), on the caller's clock. */
static unsigned int never_expire(SSL *ssl, unsigned int previous_us) {
  (void)ssl, (void)previous_us;
  return 3600u * 1000000u;
}

/* ---------- sessions ---------- */

static void fail(dc_dtls *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void fail(dc_dtls *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->error, sizeof d->error, fmt, ap);
  va_end(ap);
  d->state = DC_DTLS_FAILED;
  d->retransmit_at = UINT64_MAX;
  ERR_clear_error();
}

static void fail_from_openssl(dc_dtls *d, const char *when) {
  if (d->fingerprint_mismatch) {
    fail(d, "peer certificate does not match the fingerprint in its SDP");
    return;
  }
  unsigned long e = ERR_peek_last_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  fail(d, "DTLS %s failed: %s", when, reason ? reason : "connection error");
}

dc_dtls *dc_dtls_new(dc_dtls_identity *id, dc_dtls_role role, const char *peer_fingerprint,
                     uint64_t now_us, GError **error) {
  pthread_once(&bio_once, make_bio_method);
  dc_dtls *d = g_new0(dc_dtls, 1);
  if (!parse_fingerprint(d, peer_fingerprint, error)) {
    g_free(d);
    return NULL;
  }
  d->ssl = SSL_new(id->ctx);
  BIO *bio = bio_method ? BIO_new(bio_method) : NULL;
  if (!d->ssl || !bio) {
    g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_FAILED, "could not create a DTLS session");
    BIO_free(bio);
    SSL_free(d->ssl);
    g_free(d);
    ERR_clear_error();
    return NULL;
  }
  BIO_set_data(bio, d);
  SSL_set_bio(d->ssl, bio, bio);
  SSL_set_app_data(d->ssl, d);
  SSL_set_mtu(d->ssl, DC_DTLS_MTU - 28); /* less IPv4 + UDP headers */
  DTLS_set_timer_cb(d->ssl, never_expire);
  d->id = dc_dtls_identity_ref(id);
  d->flight = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  d->server = role == DC_DTLS_SERVER;
  d->call = 1;
  d->state = DC_DTLS_HANDSHAKING;
  d->started_us = now_us;
  d->rto_us = RTO_INITIAL_US;
  d->retransmit_at = UINT64_MAX;
  if (role == DC_DTLS_CLIENT) {
    SSL_set_connect_state(d->ssl);
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    if (r <= 0 && SSL_get_error(d->ssl, r) != SSL_ERROR_WANT_READ)
      fail_from_openssl(d, "ClientHello");
    else
      d->retransmit_at = now_us + d->rto_us;
  } else {
    SSL_set_accept_state(d->ssl);
  }
  return d;
}

void dc_dtls_free(dc_dtls *d) {
  if (!d)
    return;
  SSL_free(d->ssl); /* frees the BIO too */
  while (d->out_count) {
    g_free(d->out[d->out_head]);
    d->out_head = (d->out_head + 1) % OUT_QUEUE;
    d->out_count--;
  }
  g_free(d->polled);
  g_ptr_array_unref(d->flight);
  dc_dtls_identity_unref(d->id);
  g_free(d);
}

static void finish_handshake(dc_dtls *d) {
  /* Belt and braces: the verify callback ran, but check the certificate actually used. */
  X509 *peer = SSL_get0_peer_certificate(d->ssl);
  if (!fingerprint_matches(d, peer)) {
    fail(d, "peer certificate does not match the fingerprint in its SDP");
    return;
  }
  if (!SSL_get_selected_srtp_profile(d->ssl)) {
    fail(d, "peer did not negotiate an SRTP profile we support (use_srtp)");
    return;
  }
  d->state = DC_DTLS_CONNECTED;
  d->retransmit_at = UINT64_MAX;
}

dc_status dc_dtls_handle_datagram(dc_dtls *d, const uint8_t *data, size_t len, uint64_t now_us) {
  if (d->state == DC_DTLS_FAILED || d->state == DC_DTLS_CLOSED)
    return DC_ERR_STATE;
  if (len == 0 || len > 65536)
    return DC_ERR_MALFORMED;
  uint64_t sent_before = d->sent_total;
  bool was_connected = d->state == DC_DTLS_CONNECTED;
  d->call++;
  d->in = data;
  d->in_len = len;
  ERR_clear_error();
  if (d->state == DC_DTLS_HANDSHAKING) {
    int r = SSL_do_handshake(d->ssl);
    if (r == 1) {
      finish_handshake(d);
    } else {
      int e = SSL_get_error(d->ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        fail_from_openssl(d, "handshake");
    }
  }
  /* Once connected the peer may still retransmit its last flight (our reply to it was
   * lost) or send an alert; SSL_read answers both. Application data is not used. */
  while (d->state == DC_DTLS_CONNECTED) {
    uint8_t scratch[2048];
    int r = SSL_read(d->ssl, scratch, sizeof scratch);
    if (r > 0)
      continue;
    int e = SSL_get_error(d->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN)
      d->state = DC_DTLS_CLOSED;
    else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
      fail_from_openssl(d, "session");
    break;
  }
  d->in = NULL;
  ERR_clear_error();
  if (d->state == DC_DTLS_HANDSHAKING && d->sent_total != sent_before) {
    d->rto_us = RTO_INITIAL_US; /* a new flight starts a fresh timer (RFC 6347 §4.2.4) */
    d->retransmit_at = now_us + d->rto_us;
  }
  /* The server's last flight (ChangeCipherSpec, Finished) has no timer: if it is lost the
   * client resends its own flight, and that must make us resend ours (RFC 6347 §4.2.4).
   * OpenSSL does so only for a retransmission with fresh record numbers; a byte-identical
   * one is dropped as a replay before it sees it. So when handshake records still arrive
   * and OpenSSL sent nothing, resend the final flight here, at most every 100 ms. */
  bool handshake_record = data[0] == 20 || data[0] == 22;
  if (d->server && was_connected && d->state == DC_DTLS_CONNECTED && handshake_record &&
      d->sent_total == sent_before && now_us - d->last_final_resend_us >= 100000) {
    d->last_final_resend_us = now_us;
    resend_flight(d);
  }
  return DC_OK;
}

const uint8_t *dc_dtls_poll_datagram(dc_dtls *d, size_t *len) {
  g_free(d->polled);
  d->polled = NULL;
  if (!d->out_count)
    return NULL;
  d->polled = d->out[d->out_head];
  *len = d->out_len[d->out_head];
  d->out_head = (d->out_head + 1) % OUT_QUEUE;
  d->out_count--;
  return d->polled;
}

uint64_t dc_dtls_timeout(const dc_dtls *d) {
  if (d->state != DC_DTLS_HANDSHAKING)
    return UINT64_MAX;
  uint64_t give_up = d->started_us + HANDSHAKE_LIMIT_US;
  return d->retransmit_at < give_up ? d->retransmit_at : give_up;
}

void dc_dtls_handle_timeout(dc_dtls *d, uint64_t now_us) {
  if (d->state != DC_DTLS_HANDSHAKING || now_us < dc_dtls_timeout(d))
    return;
  if (now_us - d->started_us >= HANDSHAKE_LIMIT_US) {
    fail(d, "DTLS handshake timed out after %u s", HANDSHAKE_LIMIT_US / 1000000);
    return;
  }
  resend_flight(d);
  d->rto_us = d->rto_us * 2 > RTO_MAX_US ? RTO_MAX_US : d->rto_us * 2;
  d->retransmit_at = now_us + d->rto_us;
}

void dc_dtls_resend_flight(dc_dtls *d) {
  if (d->state == DC_DTLS_HANDSHAKING)
    resend_flight(d);
}

dc_dtls_state dc_dtls_get_state(const dc_dtls *d) { return d->state; }
const char *dc_dtls_error(const dc_dtls *d) { return d->error; }

dc_status dc_dtls_srtp_keys_export(dc_dtls *d, dc_dtls_srtp_keys *keys) {
  if (d->state != DC_DTLS_CONNECTED)
    return DC_ERR_STATE;
  const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
  dc_srtp_profile profile = (dc_srtp_profile)p->id;
  size_t kl = dc_srtp_key_len(profile), sl = dc_srtp_salt_len(profile);
  if (!kl)
    return DC_ERR_UNSUPPORTED;
  /* RFC 5764 §4.2: client key | server key | client salt | server salt */
  uint8_t material[2 * (DC_SRTP_MAX_KEY + DC_SRTP_MAX_SALT)];
  static const char label[] = "EXTRACTOR-dtls_srtp";
  if (SSL_export_keying_material(d->ssl, material, 2 * (kl + sl), label, sizeof label - 1, NULL,
                                 0, 0) != 1) {
    ERR_clear_error();
    return DC_ERR_INTERNAL;
  }
  bool client = !SSL_is_server(d->ssl);
  const uint8_t *ck = material, *sk = material + kl, *cs = material + 2 * kl,
                *ss = material + 2 * kl + sl;
  memset(keys, 0, sizeof *keys);
  keys->profile = profile;
  memcpy(keys->local_key, client ? ck : sk, kl);
  memcpy(keys->remote_key, client ? sk : ck, kl);
  memcpy(keys->local_salt, client ? cs : ss, sl);
  memcpy(keys->remote_salt, client ? ss : cs, sl);
  OPENSSL_cleanse(material, sizeof material);
  return DC_OK;
}

void dc_dtls_close(dc_dtls *d) {
  if (d->state != DC_DTLS_CONNECTED)
    return;
  ERR_clear_error();
  SSL_shutdown(d->ssl);
  ERR_clear_error();
  d->state = DC_DTLS_CLOSED;
}
