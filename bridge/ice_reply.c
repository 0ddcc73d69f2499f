/* ice_reply.c — see ice_reply.h. */
#include "bridge/ice_reply.h"

#include <stun/stunagent.h>
#include <stun/usages/ice.h>
#include <string.h>

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
