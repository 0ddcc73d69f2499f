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

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/ice-reply/check-answered", test_check_answered);
  g_test_add_func("/ice-reply/not-ours-unanswered", test_not_ours_unanswered);
  g_test_add_func("/ice-reply/indication-and-response-unanswered", test_indication_and_response_unanswered);
  g_test_add_func("/ice-reply/role-conflict-answered-without-switching", test_role_conflict_answered_without_switching);
  return g_test_run();
}
