/* ice_reply.c — see ice_reply.h. */
#include "bridge/ice_reply.h"

#include <stun/stunagent.h>
#include <stun/usages/ice.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(((dc_ice_check *)0)->id) == sizeof(StunTransactionId), "a check holds a whole id");

typedef struct {
  const char *ufrag, *pwd;
} credentials;

/* stun_agent_validate's question: which password checks this USERNAME's integrity. */
static bool password_for(StunAgent *agent, StunMessage *msg, uint8_t *username, uint16_t username_len,
                         uint8_t **password, size_t *password_len, void *data) {
  (void)agent, (void)msg;
  const credentials *c = data;
  size_t n = strlen(c->ufrag);
  if (username_len <= n || memcmp(username, c->ufrag, n) != 0 || username[n] != ':')
    return false;
  *password = (uint8_t *)c->pwd;
  *password_len = strlen(c->pwd);
  return true;
}

size_t dc_ice_reply(const uint8_t *req, size_t len, const char *ufrag, const char *pwd, bool controlling,
                    uint64_t tie_breaker, const struct sockaddr *from, socklen_t from_len, uint8_t *out,
                    size_t cap) {
  /* an agent per thread: validating a request and answering it keep nothing in it (only
   * requests we sent would be remembered, and we send none from here) */
  static __thread StunAgent agent;
  static __thread bool agent_ready;
  if (!agent_ready) {
    stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
    agent_ready = true;
  }
  struct sockaddr_storage src;
  /* the answer repeats the request's USERNAME and adds at most an IPv6 address, integrity and
   * fingerprint: with this much room it always fits (libnice's writer asserts when it does
   * not). Real checks are 100-200 bytes. */
  if (!req || len > DC_ICE_REPLY_MAX_REQUEST || cap < len + 128 || !ufrag || !pwd || !*ufrag || !from ||
      from_len == 0 || from_len > sizeof src)
    return 0;
  memcpy(&src, from, from_len);
  credentials c = {ufrag, pwd};
  StunMessage msg;
  if (stun_agent_validate(&agent, &msg, req, len, password_for, &c) != STUN_VALIDATION_SUCCESS ||
      stun_message_get_class(&msg) != STUN_REQUEST || stun_message_get_method(&msg) != STUN_BINDING)
    return 0;
  StunMessage reply;
  size_t n = cap;
  bool control = controlling; /* a switch the library would make is not ours to make */
  stun_usage_ice_conncheck_create_reply(&agent, &msg, &reply, out, &n, &src, from_len, &control, tie_breaker,
                                        STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  return n; /* 0 when no answer could be written */
}

/* Short-term credentials as in dc_ice_reply; an agent on the stack for each call, so that
 * nothing it remembers (the transaction and a pointer to the password) outlives the call. */
static void local_agent(StunAgent *agent) {
  stun_agent_init(agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                  STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
}

/* RFC 8445 §5.1.2.1: type preference 110 (peer-reflexive), the highest local preference,
 * component 1: what the peer would learn of us from this check. */
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | (256u - 1u))

size_t dc_ice_check_request(dc_ice_check *check, const char *local_ufrag, const char *remote_ufrag,
                            const char *remote_pwd, bool controlling, uint64_t tie_breaker, uint8_t *out,
                            size_t cap) {
  if (!check || !local_ufrag || !remote_ufrag || !remote_pwd || !*local_ufrag || !*remote_ufrag || !*remote_pwd ||
      !out || cap < 200)
    return 0;
  char username[600];
  int ulen = snprintf(username, sizeof username, "%s:%s", remote_ufrag, local_ufrag);
  if (ulen < 0 || (size_t)ulen >= sizeof username || (size_t)ulen + 120 > cap)
    return 0; /* libnice's writer asserts when a message does not fit: never ask it to */
  StunAgent agent;
  local_agent(&agent);
  StunMessage msg;
  size_t n = stun_usage_ice_conncheck_create(&agent, &msg, out, cap, (const uint8_t *)username, (size_t)ulen,
                                             (const uint8_t *)remote_pwd, strlen(remote_pwd), false, controlling,
                                             PRFLX_PRIORITY, tie_breaker, NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  if (n == 0)
    return 0;
  StunTransactionId id;
  stun_message_id(&msg, id);
  memcpy(check->id, id, sizeof check->id);
  return n;
}

bool dc_ice_check_answered(const dc_ice_check *check, const uint8_t *resp, size_t len, const char *remote_pwd) {
  if (!check || !resp || !remote_pwd || !*remote_pwd || len < 20 || len > DC_ICE_REPLY_MAX_REQUEST)
    return false;
  /* The library takes a response only to a request its agent sent, and checks its integrity
   * with the key that request was sent with: the agent is told of ours by finishing a bare
   * request with its transaction id and the peer's password (nothing is sent). */
  StunAgent agent;
  local_agent(&agent);
  uint8_t bare[64];
  StunMessage sent = {.buffer = bare, .buffer_len = sizeof bare, .agent = &agent};
  StunTransactionId id;
  memcpy(id, check->id, sizeof id);
  if (!stun_message_init(&sent, STUN_REQUEST, STUN_BINDING, id) ||
      !stun_agent_finish_message(&agent, &sent, (const uint8_t *)remote_pwd, strlen(remote_pwd)))
    return false;
  StunMessage msg;
  return stun_agent_validate(&agent, &msg, resp, len, NULL, NULL) == STUN_VALIDATION_SUCCESS &&
         stun_message_get_class(&msg) == STUN_RESPONSE && stun_message_get_method(&msg) == STUN_BINDING;
}
