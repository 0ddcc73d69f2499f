/* sdp-answer — reads an SDP offer on stdin and writes diemcau's answer on stdout, with a
 * freshly made DTLS identity and one loopback host candidate. For tests that hand our
 * answers to real peers (browsers, webrtcbin) to see that they accept them. Exit status 1
 * with the refusal on stderr when the offer cannot be served. */
#include <stdio.h>
#include <stdlib.h>

#include "media/dtls.h"
#include "media/sdp.h"

int main(void) {
  GString *offer_text = g_string_new(NULL);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
    g_string_append_len(offer_text, buf, (gssize)n);
  GError *err = NULL;
  dc_sdp *offer = dc_sdp_parse(offer_text->str, offer_text->len, &err);
  dc_sdp_negotiation *neg = offer ? dc_sdp_negotiate(offer, &err) : NULL;
  dc_dtls_identity *id = neg ? dc_dtls_identity_new("diemcau-test", &err) : NULL;
  if (!id) {
    fprintf(stderr, "sdp-answer: %s\n", err->message);
    return 1;
  }
  dc_sdp_send send[64] = {{0}};
  for (guint i = 0; i < neg->sections->len && i < 64; i++)
    send[i] = (dc_sdp_send){.ssrc = 0x10000000u + i, .rtx_ssrc = 0x20000000u + i};
  const char *cands[] = {"1 1 udp 2130706431 127.0.0.1 9 typ host", NULL};
  dc_sdp_answer_params p = {.ice_ufrag = "dcTest", .ice_pwd = "diemcau-test-password-123",
                            .fingerprint = dc_dtls_identity_fingerprint(id),
                            .cname = "diemcau-test", .session_id = 1, .candidates = cands,
                            .end_of_candidates = true, .send = send};
  char *answer = dc_sdp_write_answer(neg, &p);
  fputs(answer, stdout);
  g_free(answer);
  dc_sdp_negotiation_free(neg);
  dc_sdp_free(offer);
  dc_dtls_identity_unref(id);
  g_string_free(offer_text, TRUE);
  return 0;
}
