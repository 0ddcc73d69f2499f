/* libFuzzer target: whatever arrives as STUN on a socket a transport reads itself
 * (bridge/ice_reply). An answer, when there is one, fits where it was written and is a whole
 * STUN message. The seed is a check with the credentials below, so that inputs get past
 * MESSAGE-INTEGRITY into the attributes. The same bytes go in as the answer to a check of
 * ours (dc_ice_check_answered). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <stun/stunmessage.h>

#include "bridge/ice_reply.h"

#define UFRAG "fuzzUfrg"
#define PWD "fuzz-password-24-chars!!"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size ? size : 1); /* exact size: reads past the end trip ASan */
  memcpy(copy, data, size);
  struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};
  inet_pton(AF_INET6, "2001:db8::7", &from.sin6_addr);
  uint8_t out[DC_ICE_REPLY_MAX_REQUEST + 128];
  for (int controlling = 0; controlling < 2; controlling++) {
    size_t n = dc_ice_reply(copy, size, UFRAG, PWD, controlling, 0x8000000000000000ULL, (const struct sockaddr *)&from,
                            sizeof from, out, sizeof out);
    if (n > sizeof out || (n && stun_message_validate_buffer_length(out, n, true) != (int)n))
      abort();
  }
  /* the same bytes as the answer to a check of ours (its id from the input's, when it has
   * one, so that inputs get past the id into the integrity check) */
  dc_ice_check check = {{0}};
  if (size >= 20)
    memcpy(check.id, copy + 4, sizeof check.id);
  (void)dc_ice_check_answered(&check, copy, size, PWD);
  free(copy);
  return 0;
}
