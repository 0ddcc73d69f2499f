/* Unit tests for media/dtls: handshakes in simulated time over a channel that drops,
 * reorders and duplicates datagrams from a seeded generator; fingerprint checks; timeouts;
 * and the exported SRTP keys carrying real packets through media/srtp. */
#include <glib.h>
#include <string.h>

#include "media/dtls.h"
#include "media/rtp.h"

static dc_dtls_identity *alice_id, *bob_id;

/* ---------- a simulated datagram channel ---------- */

static void drop_all(dc_dtls *d) {
  size_t len;
  while (dc_dtls_poll_datagram(d, &len))
    ;
}

typedef struct {
  uint64_t at;
  bool to_server;
  GBytes *data;
} flight_pkt;

typedef struct {
  GRand *rng;
  double loss, dup;
  uint64_t max_delay_us;
  GPtrArray *in_flight;
  unsigned sent[2], delivered[2]; /* [0] client->server, [1] server->client */
} channel;

static void channel_send(channel *ch, bool to_server, const uint8_t *data, size_t len,
                         uint64_t now) {
  ch->sent[to_server ? 0 : 1]++;
  int copies = 1;
  if (ch->rng && g_rand_double(ch->rng) < ch->loss)
    copies = 0;
  else if (ch->rng && g_rand_double(ch->rng) < ch->dup)
    copies = 2;
  for (int i = 0; i < copies; i++) {
    flight_pkt *p = g_new(flight_pkt, 1);
    /* a random delay per datagram reorders them */
    p->at = now + 10000 + (ch->rng ? g_rand_int_range(ch->rng, 0, (gint32)ch->max_delay_us) : 0);
    p->to_server = to_server;
    p->data = g_bytes_new(data, len);
    g_ptr_array_add(ch->in_flight, p);
  }
}

static void drain(channel *ch, dc_dtls *from, bool to_server, uint64_t now) {
  const uint8_t *dg;
  size_t len;
  while ((dg = dc_dtls_poll_datagram(from, &len)))
    channel_send(ch, to_server, dg, len, now);
}

static void free_pkt(gpointer p) {
  g_bytes_unref(((flight_pkt *)p)->data);
  g_free(p);
}

/* Runs both sides until both are done or `limit_us` of simulated time passed. Returns the
 * simulated time at the end. */
static uint64_t run(channel *ch, dc_dtls *client, dc_dtls *server, uint64_t limit_us) {
  uint64_t now = 0;
  drain(ch, client, true, now);
  for (int steps = 0; steps < 100000; steps++) {
    bool c_done = dc_dtls_get_state(client) != DC_DTLS_HANDSHAKING;
    bool s_done = dc_dtls_get_state(server) != DC_DTLS_HANDSHAKING;
    if (c_done && s_done && ch->in_flight->len == 0)
      break;
    uint64_t next = MIN(dc_dtls_timeout(client), dc_dtls_timeout(server));
    guint first = G_MAXUINT;
    for (guint i = 0; i < ch->in_flight->len; i++) {
      flight_pkt *p = g_ptr_array_index(ch->in_flight, i);
      if (p->at < next)
        next = p->at, first = i;
    }
    if (next == UINT64_MAX || next > limit_us)
      break;
    now = MAX(now, next);
    if (first != G_MAXUINT) {
      flight_pkt *p = g_ptr_array_steal_index(ch->in_flight, first);
      dc_dtls *dst = p->to_server ? server : client;
      ch->delivered[p->to_server ? 0 : 1]++;
      gsize len;
      const uint8_t *data = g_bytes_get_data(p->data, &len);
      dc_dtls_handle_datagram(dst, data, len, now);
      free_pkt(p);
    } else {
      dc_dtls_handle_timeout(client, now);
      dc_dtls_handle_timeout(server, now);
    }
    drain(ch, client, true, now);
    drain(ch, server, false, now);
  }
  return now;
}

static void channel_init(channel *ch, guint32 seed, double loss, double dup, uint64_t delay) {
  memset(ch, 0, sizeof *ch);
  ch->rng = seed ? g_rand_new_with_seed(seed) : NULL;
  ch->loss = loss;
  ch->dup = dup;
  ch->max_delay_us = delay;
  ch->in_flight = g_ptr_array_new_with_free_func(free_pkt);
}

static void channel_clear(channel *ch) {
  if (ch->rng)
    g_rand_free(ch->rng);
  g_ptr_array_unref(ch->in_flight);
}

static void pair(dc_dtls **client, dc_dtls **server) {
  GError *err = NULL;
  *client = dc_dtls_new(alice_id, DC_DTLS_CLIENT, dc_dtls_identity_fingerprint(bob_id), 0, &err);
  g_assert_no_error(err);
  *server = dc_dtls_new(bob_id, DC_DTLS_SERVER, dc_dtls_identity_fingerprint(alice_id), 0, &err);
  g_assert_no_error(err);
}

/* Both sides hold mirror-image keys, and those keys carry a packet through libsrtp. */
static void check_keys(dc_dtls *client, dc_dtls *server) {
  dc_dtls_srtp_keys ck, sk;
  g_assert_cmpint(dc_dtls_srtp_keys_export(client, &ck), ==, DC_OK);
  g_assert_cmpint(dc_dtls_srtp_keys_export(server, &sk), ==, DC_OK);
  g_assert_cmpint(ck.profile, ==, DC_SRTP_AEAD_AES_128_GCM); /* our preferred profile */
  g_assert_cmpmem(ck.local_key, 16, sk.remote_key, 16);
  g_assert_cmpmem(ck.remote_key, 16, sk.local_key, 16);
  g_assert_cmpmem(ck.local_salt, 12, sk.remote_salt, 12);
  g_assert_cmpmem(ck.remote_salt, 12, sk.local_salt, 12);
  g_assert_true(memcmp(ck.local_key, ck.remote_key, 16) != 0);

  dc_srtp *tx = dc_srtp_new(ck.profile, ck.local_key, ck.local_salt, DC_SRTP_OUTBOUND, NULL);
  dc_srtp *rx = dc_srtp_new(sk.profile, sk.remote_key, sk.remote_salt, DC_SRTP_INBOUND, NULL);
  uint8_t pkt[512];
  dc_rtp_header h = {.payload_type = 111, .seq = 1, .timestamp = 960, .ssrc = 77};
  size_t len = dc_rtp_write_header(pkt, sizeof pkt, &h, NULL, 0);
  memcpy(pkt + len, "hello highland", 14);
  len += 14;
  g_assert_cmpint(dc_srtp_protect(tx, pkt, &len, sizeof pkt), ==, DC_OK);
  g_assert_cmpint(dc_srtp_unprotect(rx, pkt, &len), ==, DC_OK);
  g_assert_cmpmem(pkt + 12, len - 12, "hello highland", 14);
  dc_srtp_free(tx);
  dc_srtp_free(rx);
}

static void test_identity(void) {
  const char *fp = dc_dtls_identity_fingerprint(alice_id);
  g_assert_true(g_str_has_prefix(fp, "sha-256 "));
  g_assert_cmpuint(strlen(fp), ==, 8 + 32 * 3 - 1);
  g_assert_cmpstr(fp, !=, dc_dtls_identity_fingerprint(bob_id));
}

static void test_clean_handshake(void) {
  channel ch;
  channel_init(&ch, 0, 0, 0, 0);
  dc_dtls *c, *s;
  pair(&c, &s);
  run(&ch, c, s, 5000000);
  g_assert_cmpint(dc_dtls_get_state(c), ==, DC_DTLS_CONNECTED);
  g_assert_cmpint(dc_dtls_get_state(s), ==, DC_DTLS_CONNECTED);
  /* No spurious retransmission: ClientHello + one more flight each way, at most
   * 2 datagrams per flight with P-256 certificates at our MTU. */
  g_test_message("clean handshake: %u datagrams client->server, %u server->client", ch.sent[0],
                 ch.sent[1]);
  g_assert_cmpuint(ch.sent[0], <=, 3);
  g_assert_cmpuint(ch.sent[1], <=, 3);
  check_keys(c, s);

  /* close_notify reaches the other side */
  dc_dtls_close(c);
  g_assert_cmpint(dc_dtls_get_state(c), ==, DC_DTLS_CLOSED);
  const uint8_t *dg;
  size_t len;
  while ((dg = dc_dtls_poll_datagram(c, &len)))
    dc_dtls_handle_datagram(s, dg, len, 6000000);
  g_assert_cmpint(dc_dtls_get_state(s), ==, DC_DTLS_CLOSED);
  dc_dtls_free(c);
  dc_dtls_free(s);
  channel_clear(&ch);
}

static void test_lossy_handshakes(void) {
  unsigned retransmitting = 0;
  for (guint32 seed = 1; seed <= 24; seed++) {
    channel ch;
    /* 20 % loss, 10 % duplication, up to 300 ms of jitter (reorders within a flight) */
    channel_init(&ch, seed, 0.20, 0.10, 300000);
    dc_dtls *c, *s;
    pair(&c, &s);
    uint64_t t = run(&ch, c, s, 40000000);
    if (dc_dtls_get_state(c) != DC_DTLS_CONNECTED || dc_dtls_get_state(s) != DC_DTLS_CONNECTED)
      g_error("seed %u: client %d (%s), server %d (%s) after %.1f s", seed,
              dc_dtls_get_state(c), dc_dtls_error(c), dc_dtls_get_state(s), dc_dtls_error(s),
              t / 1e6);
    if (ch.sent[0] + ch.sent[1] > 6)
      retransmitting++;
    check_keys(c, s);
    dc_dtls_free(c);
    dc_dtls_free(s);
    channel_clear(&ch);
  }
  g_test_message("%u of 24 lossy handshakes needed retransmissions", retransmitting);
  g_assert_cmpuint(retransmitting, >, 0); /* the channel really did lose flights */
}

static void test_wrong_fingerprint(void) {
  GError *err = NULL;
  /* The server expects bob's own fingerprint from the client, which presents alice's. */
  dc_dtls *c = dc_dtls_new(alice_id, DC_DTLS_CLIENT, dc_dtls_identity_fingerprint(bob_id), 0, &err);
  dc_dtls *s = dc_dtls_new(bob_id, DC_DTLS_SERVER, dc_dtls_identity_fingerprint(bob_id), 0, &err);
  g_assert_no_error(err);
  channel ch;
  channel_init(&ch, 0, 0, 0, 0);
  run(&ch, c, s, 40000000);
  g_assert_cmpint(dc_dtls_get_state(s), ==, DC_DTLS_FAILED);
  g_assert_nonnull(strstr(dc_dtls_error(s), "does not match the fingerprint"));
  g_assert_cmpint(dc_dtls_get_state(c), ==, DC_DTLS_FAILED); /* it got the alert */
  dc_dtls_srtp_keys k;
  g_assert_cmpint(dc_dtls_srtp_keys_export(s, &k), ==, DC_ERR_STATE);
  g_assert_cmpint(dc_dtls_handle_datagram(s, (const uint8_t *)"x", 1, 1), ==, DC_ERR_STATE);
  dc_dtls_free(c);
  dc_dtls_free(s);
  channel_clear(&ch);

  /* and the client refuses a server whose certificate is not the one in its SDP */
  c = dc_dtls_new(alice_id, DC_DTLS_CLIENT, dc_dtls_identity_fingerprint(alice_id), 0, &err);
  s = dc_dtls_new(bob_id, DC_DTLS_SERVER, dc_dtls_identity_fingerprint(alice_id), 0, &err);
  channel_init(&ch, 0, 0, 0, 0);
  run(&ch, c, s, 40000000);
  g_assert_cmpint(dc_dtls_get_state(c), ==, DC_DTLS_FAILED);
  g_assert_nonnull(strstr(dc_dtls_error(c), "does not match the fingerprint"));
  g_assert_cmpint(dc_dtls_get_state(s), !=, DC_DTLS_CONNECTED);
  dc_dtls_free(c);
  dc_dtls_free(s);
  channel_clear(&ch);
}

static void test_bad_fingerprint_text(void) {
  const char *bad[] = {NULL,
                       "",
                       "sha-256",
                       "md5 AA:BB",
                       "sha-256 AB:CD",                       /* too short */
                       "sha-256 ZZ:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    GError *err = NULL;
    g_assert_null(dc_dtls_new(alice_id, DC_DTLS_SERVER, bad[i], 0, &err));
    int want = i == 3 ? DC_MEDIA_ERROR_UNSUPPORTED : DC_MEDIA_ERROR_INVALID;
    g_assert_error(err, DC_MEDIA_ERROR, want);
    g_error_free(err);
  }
  /* sha-1 is refused (issue 10): a fingerprint is all that authenticates the peer */
  GError *err = NULL;
  g_assert_null(dc_dtls_new(alice_id, DC_DTLS_SERVER,
                            "SHA-1 4a:ad:b9:b1:3f:82:18:3b:54:02:12:df:3e:5d:49:6b:19:e5:7c:ab", 0, &err));
  g_assert_error(err, DC_MEDIA_ERROR, DC_MEDIA_ERROR_UNSUPPORTED);
  g_clear_error(&err);
  /* upper- or lower-case hex and the hash name in any case are fine, as endpoints vary */
  dc_dtls *d = dc_dtls_new(alice_id, DC_DTLS_SERVER,
                           "SHA-256 4a:ad:b9:b1:3f:82:18:3b:54:02:12:df:3e:5d:49:6b:19:e5:7c:ab:"
                           "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF", 0, &err);
  g_assert_no_error(err);
  dc_dtls_free(d);
}

/* A server's answer to a ClientHello that came before the server's ICE had a path to send
 * on was lost, and the join waited for a retransmission (200 ms; one join in twenty of
 * bench_join). Sent again once the path is there, the handshake ends in its round trips. */
static void test_flight_resent(void) {
  uint64_t ends[2];
  for (int resend = 0; resend < 2; resend++) {
    channel ch;
    channel_init(&ch, 0, 0, 0, 0); /* every datagram 10 ms on the way, none lost */
    dc_dtls *client, *server;
    pair(&client, &server);
    const uint8_t *dg;
    size_t len;
    while ((dg = dc_dtls_poll_datagram(client, &len)))
      dc_dtls_handle_datagram(server, dg, len, 10000);
    drop_all(server); /* no path yet */
    if (resend)
      dc_dtls_resend_flight(server); /* the path came */
    drain(&ch, server, false, 10000);
    ends[resend] = run(&ch, client, server, 10000000);
    g_assert_cmpint(dc_dtls_get_state(client), ==, DC_DTLS_CONNECTED);
    g_assert_cmpint(dc_dtls_get_state(server), ==, DC_DTLS_CONNECTED);
    dc_dtls_free(client);
    dc_dtls_free(server);
    channel_clear(&ch);
  }
  g_test_message("connected at %.0f ms waiting for the timer, %.0f ms sent again", ends[0] / 1000.0, ends[1] / 1000.0);
  g_assert_cmpuint(ends[0], >=, 200000);
  g_assert_cmpuint(ends[1], <, 100000);
}

static void test_timeout_and_garbage(void) {
  GError *err = NULL;
  dc_dtls *c = dc_dtls_new(alice_id, DC_DTLS_CLIENT, dc_dtls_identity_fingerprint(bob_id), 0, &err);
  unsigned sent = 0;
  uint64_t now = 0;
  size_t len;
  for (int i = 0; i < 100 && dc_dtls_get_state(c) == DC_DTLS_HANDSHAKING; i++) {
    while (dc_dtls_poll_datagram(c, &len))
      sent++;
    now = dc_dtls_timeout(c);
    g_assert_cmpuint(now, !=, UINT64_MAX);
    dc_dtls_handle_timeout(c, now);
  }
  while (dc_dtls_poll_datagram(c, &len))
    sent++;
  g_assert_cmpint(dc_dtls_get_state(c), ==, DC_DTLS_FAILED);
  g_assert_nonnull(strstr(dc_dtls_error(c), "timed out"));
  g_assert_cmpuint(now, ==, 30000000);
  /* ClientHello at 0, then resent at 0.2, 0.6, 1.4, 3.0, 6.2, 12.6, 19.0 and 25.4 s */
  g_assert_cmpuint(sent, ==, 9);
  g_assert_cmpuint(dc_dtls_timeout(c), ==, UINT64_MAX);
  dc_dtls_free(c);

  /* A server fed garbage ignores it and still completes a handshake afterwards. */
  dc_dtls *cl, *s;
  pair(&cl, &s);
  uint8_t junk[300];
  for (int i = 0; i < 50; i++) {
    for (size_t b = 0; b < sizeof junk; b++)
      junk[b] = (uint8_t)(i * 31 + b * 7);
    junk[0] = 22; /* looks like a handshake record */
    junk[1] = 0xfe, junk[2] = 0xfd;
    g_assert_cmpint(dc_dtls_handle_datagram(s, junk, 13 + (size_t)i * 5, 1), ==, DC_OK);
  }
  g_assert_cmpint(dc_dtls_get_state(s), ==, DC_DTLS_HANDSHAKING);
  channel ch;
  channel_init(&ch, 0, 0, 0, 0);
  run(&ch, cl, s, 5000000);
  g_assert_cmpint(dc_dtls_get_state(s), ==, DC_DTLS_CONNECTED);
  dc_dtls_free(cl);
  dc_dtls_free(s);
  channel_clear(&ch);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  GError *err = NULL;
  alice_id = dc_dtls_identity_new("alice", &err);
  g_assert_no_error(err);
  bob_id = dc_dtls_identity_new("bob", &err);
  g_assert_no_error(err);
  g_test_add_func("/dtls/identity", test_identity);
  g_test_add_func("/dtls/clean-handshake", test_clean_handshake);
  g_test_add_func("/dtls/lossy-handshakes", test_lossy_handshakes);
  g_test_add_func("/dtls/wrong-fingerprint", test_wrong_fingerprint);
  g_test_add_func("/dtls/bad-fingerprint-text", test_bad_fingerprint_text);
  g_test_add_func("/dtls/timeout-and-garbage", test_timeout_and_garbage);
  g_test_add_func("/dtls/flight-sent-again-once-a-path-exists", test_flight_resent);
  int rc = g_test_run();
  dc_dtls_identity_unref(alice_id);
  dc_dtls_identity_unref(bob_id);
  return rc;
}
