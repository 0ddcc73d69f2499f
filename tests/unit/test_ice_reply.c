/* Unit tests for bridge/ice_reply: a peer's check, written by libnice's STUN library as a
 * browser's or libnice's own would be, gets an answer that the peer accepts (integrity with
 * our password, the address it came from); checks that are not ours, or not intact, get none. */
#include <arpa/inet.h>
#include <glib.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>
#include <string.h>

#include "bridge/ice_reply.h"

#define OUR_UFRAG "Br1dgeUf"
#define OUR_PWD "bridge-password-24-chars"
#define PEER_UFRAG "peer"

typedef struct {
  StunAgent agent;
  uint8_t req[512];
  size_t req_len;
  struct sockaddr_in from;
} peer;

static void peer_init(peer *p) {
  stun_agent_init(&p->agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                  STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
  memset(&p->from, 0, sizeof p->from);
  p->from.sin_family = AF_INET;
  p->from.sin_port = htons(50123);
  inet_pton(AF_INET, "10.1.2.3", &p->from.sin_addr);
}

/* A connectivity check from the peer (controlling, nominating) to us. */
static void peer_check(peer *p, const char *username, const char *password, bool controlling) {
  StunMessage msg;
  p->req_len = stun_usage_ice_conncheck_create(&p->agent, &msg, p->req, sizeof p->req, (const uint8_t *)username,
                                               strlen(username), (const uint8_t *)password, strlen(password), true,
                                               controlling, 0x6e0001ff, 0x1234567890abcdefULL, NULL,
                                               STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  g_assert_cmpuint(p->req_len, >, 20);
}

static size_t reply(peer *p, uint8_t *out, size_t cap) {
  return dc_ice_reply(p->req, p->req_len, OUR_UFRAG, OUR_PWD, false, 42, (const struct sockaddr *)&p->from,
                      sizeof p->from, out, cap);
}

static void test_check_answered(void) {
  peer p;
  peer_init(&p);
  peer_check(&p, OUR_UFRAG ":" PEER_UFRAG, OUR_PWD, true);
  uint8_t out[512];
  size_t n = reply(&p, out, sizeof out);
  g_assert_cmpuint(n, >, 20);
  /* the peer takes it: a response to its own request, integrity with our password */
  StunMessage resp;
  g_assert_cmpint(stun_agent_validate(&p.agent, &resp, out, n, NULL, NULL), ==, STUN_VALIDATION_SUCCESS);
  g_assert_cmpint(stun_message_get_class(&resp), ==, STUN_RESPONSE);
  struct sockaddr_storage mapped;
  socklen_t mapped_len = sizeof mapped;
  g_assert_cmpint(stun_usage_ice_conncheck_process(&resp, &mapped, &mapped_len, STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
                  ==, STUN_USAGE_ICE_RETURN_SUCCESS);
  const struct sockaddr_in *m = (const struct sockaddr_in *)&mapped;
  g_assert_cmpint(m->sin_family, ==, AF_INET);
  g_assert_cmpint(m->sin_port, ==, p.from.sin_port);
  g_assert_cmpint(m->sin_addr.s_addr, ==, p.from.sin_addr.s_addr);
}

static void test_not_ours_unanswered(void) {
  peer p;
  peer_init(&p);
  uint8_t out[512];
  peer_check(&p, OUR_UFRAG ":" PEER_UFRAG, "not-the-password-at-all!", true); /* integrity fails */
  g_assert_cmpuint(reply(&p, out, sizeof out), ==, 0);
  peer_check(&p, "someone:" PEER_UFRAG, OUR_PWD, true); /* another transport's ufrag */
  g_assert_cmpuint(reply(&p, out, sizeof out), ==, 0);
  peer_check(&p, OUR_UFRAG "x:" PEER_UFRAG, OUR_PWD, true); /* ours is only a prefix of it */
  g_assert_cmpuint(reply(&p, out, sizeof out), ==, 0);
  peer_check(&p, OUR_UFRAG ":" PEER_UFRAG, OUR_PWD, true);
  size_t whole = p.req_len;
  for (size_t cut = 0; cut < whole; cut += 7) { /* truncated anywhere */
    p.req_len = cut;
    g_assert_cmpuint(reply(&p, out, sizeof out), ==, 0);
  }
  p.req_len = whole;
  p.req[whole - 1] ^= 1; /* FINGERPRINT no longer matches */
  g_assert_cmpuint(reply(&p, out, sizeof out), ==, 0);
  p.req[whole - 1] ^= 1;
  g_assert_cmpuint(reply(&p, out, sizeof out), >, 0); /* and intact again, answered */
  g_assert_cmpuint(reply(&p, out, 16), ==, 0);        /* no room: nothing half-written goes */
}

static void test_indication_and_response_unanswered(void) {
  peer p;
  peer_init(&p);
  uint8_t out[512];
  /* a keepalive Binding indication (RFC 8445 §11) */
  StunMessage ind;
  g_assert_true(stun_agent_init_indication(&p.agent, &ind, p.req, sizeof p.req, STUN_BINDING));
  p.req_len = stun_agent_finish_message(&p.agent, &ind, NULL, 0);
  g_assert_cmpuint(p.req_len, >, 0);
  g_assert_cmpuint(reply(&p, out, sizeof out), ==, 0);
  /* our own answer sent back at us */
  peer_check(&p, OUR_UFRAG ":" PEER_UFRAG, OUR_PWD, true);
  size_t n = reply(&p, out, sizeof out);
  g_assert_cmpuint(n, >, 0);
  memcpy(p.req, out, n);
  p.req_len = n;
  g_assert_cmpuint(reply(&p, out, sizeof out), ==, 0);
}

static void test_role_conflict_answered_without_switching(void) {
  peer p;
  peer_init(&p);
  uint8_t out[512];
  /* the peer says it is controlled, as we are: RFC 8445 §7.3.1.1 answers it (here, with our
   * tie-breaker 42 below the peer's, by staying and sending 487) */
  peer_check(&p, OUR_UFRAG ":" PEER_UFRAG, OUR_PWD, false);
  size_t n = reply(&p, out, sizeof out);
  g_assert_cmpuint(n, >, 20);
  StunMessage resp;
  g_assert_cmpint(stun_agent_validate(&p.agent, &resp, out, n, NULL, NULL), ==, STUN_VALIDATION_SUCCESS);
  g_assert_cmpint(stun_message_get_class(&resp), ==, STUN_ERROR);
}

/* ---- our check to a new address of the peer ---- */

#define PEER_PWD "peer-password-is-22chr"

/* The peer's side of our check: it validates our request with its own password, as a
 * browser's ICE agent does, and answers it. username_in_reply: libnice's writer repeats the
 * request's USERNAME; a browser's (RFC 5389 §15.3: responses carry none) does not. */
static size_t peer_answers(const uint8_t *req, size_t len, const char *pwd, bool username_in_reply, uint8_t *out,
                           size_t cap) {
  StunAgent agent;
  stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                  STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
  StunMessage msg;
  g_assert_cmpint(stun_agent_validate(&agent, &msg, req, len, stun_agent_default_validater,
                                      (StunDefaultValidaterData[]){{(uint8_t *)PEER_UFRAG ":" OUR_UFRAG,
                                                                    strlen(PEER_UFRAG ":" OUR_UFRAG),
                                                                    (uint8_t *)PEER_PWD, strlen(PEER_PWD)},
                                                                   {NULL, 0, NULL, 0}}),
                  ==, STUN_VALIDATION_SUCCESS);
  g_assert_cmpint(stun_message_get_class(&msg), ==, STUN_REQUEST);
  g_assert_false(stun_message_has_attribute(&msg, STUN_ATTRIBUTE_USE_CANDIDATE)); /* it nominates nothing */
  uint64_t tie = 0;
  g_assert_cmpint(stun_message_find64(&msg, STUN_ATTRIBUTE_ICE_CONTROLLED, &tie), ==, STUN_MESSAGE_RETURN_SUCCESS);
  g_assert_cmpuint(tie, ==, 42);
  struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(3478)};
  inet_pton(AF_INET, "10.9.9.9", &from.sin_addr);
  if (username_in_reply) {
    size_t n = cap;
    bool control = true;
    StunMessage reply;
    g_assert_cmpint(stun_usage_ice_conncheck_create_reply(&agent, &msg, &reply, out, &n, (struct sockaddr_storage *)&from,
                                                          sizeof from, &control, 7, STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
                    ==, STUN_USAGE_ICE_RETURN_SUCCESS);
    return n;
  }
  StunMessage reply;
  g_assert_true(stun_agent_init_response(&agent, &reply, out, cap, &msg));
  /* signed with pwd (the library would take the request's key: the peer's password) */
  reply.key = (uint8_t *)pwd, reply.key_len = strlen(pwd);
  g_assert_cmpint(stun_message_append_xor_addr(&reply, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, (struct sockaddr_storage *)&from,
                                               sizeof from),
                  ==, STUN_MESSAGE_RETURN_SUCCESS);
  return stun_agent_finish_message(&agent, &reply, (const uint8_t *)pwd, strlen(pwd));
}

static size_t our_check(dc_ice_check *check, uint8_t *out, size_t cap) {
  return dc_ice_check_request(check, OUR_UFRAG, PEER_UFRAG, PEER_PWD, false, 42, out, cap);
}

static void test_our_check_answered(void) {
  for (int browser = 0; browser < 2; browser++) {
    dc_ice_check check;
    uint8_t req[512], resp[512];
    size_t n = our_check(&check, req, sizeof req);
    g_assert_cmpuint(n, >, 20);
    size_t m = peer_answers(req, n, PEER_PWD, !browser, resp, sizeof resp);
    g_assert_cmpuint(m, >, 20);
    g_assert_true(dc_ice_check_answered(&check, resp, m, PEER_PWD));
    /* the same answer does not answer another check of ours */
    dc_ice_check other;
    g_assert_cmpuint(our_check(&other, req, sizeof req), >, 20);
    g_assert_false(dc_ice_check_answered(&other, resp, m, PEER_PWD));
  }
}

/* What must not move our media: an answer under another password (someone who saw our
 * check but does not know the peer's), the check itself sent back, an error response, a
 * response cut short or changed, and our own answer to a check of the peer's. */
static void test_our_check_not_answered(void) {
  dc_ice_check check;
  uint8_t req[512], resp[512];
  size_t n = our_check(&check, req, sizeof req);
  size_t m = peer_answers(req, n, "a-guess-at-the-password", false, resp, sizeof resp);
  g_assert_false(dc_ice_check_answered(&check, resp, m, PEER_PWD));
  g_assert_false(dc_ice_check_answered(&check, req, n, PEER_PWD));
  m = peer_answers(req, n, PEER_PWD, false, resp, sizeof resp);
  for (size_t cut = 0; cut < m; cut += 5)
    g_assert_false(dc_ice_check_answered(&check, resp, cut, PEER_PWD));
  for (size_t i = 20; i < m; i += 3) { /* a bit changed anywhere after the header's id */
    resp[i] ^= 0x10;
    if (dc_ice_check_answered(&check, resp, m, PEER_PWD))
      g_error("answered with byte %zu of %zu changed", i, m);
    resp[i] ^= 0x10;
  }
  g_assert_true(dc_ice_check_answered(&check, resp, m, PEER_PWD)); /* intact again */
  /* an error response (487) with the check's id and intact integrity */
  StunAgent agent;
  stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                  STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
  StunMessage msg, err;
  msg.buffer = req, msg.buffer_len = n, msg.agent = &agent;
  g_assert_true(stun_agent_init_error(&agent, &err, resp, sizeof resp, &msg, STUN_ERROR_ROLE_CONFLICT));
  m = stun_agent_finish_message(&agent, &err, (const uint8_t *)PEER_PWD, strlen(PEER_PWD));
  g_assert_cmpuint(m, >, 20);
  g_assert_false(dc_ice_check_answered(&check, resp, m, PEER_PWD));
  /* a success response with the check's id and no integrity at all, with and without a
   * FINGERPRINT */
  for (int fingerprint = 0; fingerprint < 2; fingerprint++) {
    StunAgent bare_agent;
    stun_agent_init(&bare_agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                    fingerprint ? STUN_AGENT_USAGE_USE_FINGERPRINT : 0);
    StunMessage bare;
    msg.agent = &bare_agent;
    g_assert_true(stun_agent_init_response(&bare_agent, &bare, resp, sizeof resp, &msg));
    bare.key = NULL, bare.key_len = 0;
    m = stun_agent_finish_message(&bare_agent, &bare, NULL, 0);
    g_assert_cmpuint(m, >=, 20);
    g_assert_false(dc_ice_check_answered(&check, resp, m, PEER_PWD));
  }
  /* the peer's check answered by us: a success response, but to a check that is not ours */
  peer p;
  peer_init(&p);
  peer_check(&p, OUR_UFRAG ":" PEER_UFRAG, OUR_PWD, true);
  m = reply(&p, resp, sizeof resp);
  g_assert_cmpuint(m, >, 20);
  g_assert_false(dc_ice_check_answered(&check, resp, m, OUR_PWD));
  /* no credentials, no room: no check */
  g_assert_cmpuint(dc_ice_check_request(&check, OUR_UFRAG, PEER_UFRAG, "", false, 42, req, sizeof req), ==, 0);
  g_assert_cmpuint(dc_ice_check_request(&check, OUR_UFRAG, NULL, PEER_PWD, false, 42, req, sizeof req), ==, 0);
  g_assert_cmpuint(dc_ice_check_request(&check, OUR_UFRAG, PEER_UFRAG, PEER_PWD, false, 42, req, 100), ==, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/ice-reply/check-answered", test_check_answered);
  g_test_add_func("/ice-reply/not-ours-unanswered", test_not_ours_unanswered);
  g_test_add_func("/ice-reply/indication-and-response-unanswered", test_indication_and_response_unanswered);
  g_test_add_func("/ice-reply/role-conflict-answered-without-switching", test_role_conflict_answered_without_switching);
  g_test_add_func("/ice-reply/our-check-answered", test_our_check_answered);
  g_test_add_func("/ice-reply/our-check-not-answered", test_our_check_not_answered);
  return g_test_run();
}
