/* libFuzzer target: the mixer's packet input. The input is a list of packets, each a byte
 * of flags (which participant, whether to tick after it, a level) and a 2-byte length,
 * then the packet; sequence numbers, timestamps and Opus payloads are the fuzzer's. */
#include <stdlib.h>
#include <string.h>

#include "media/mixer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dc_mixer *mixer;
static int slots[4];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!mixer) {
    dc_mixer_config cfg = {.max_participants = 4, .talkers = 2};
    mixer = dc_mixer_new(&cfg, NULL);
  }
  for (int i = 0; i < 4; i++) /* fresh participants for every input */
    slots[i] = dc_mixer_add(mixer, (dc_tier)(i % DC_TIER_COUNT));
  uint64_t now = 1000000;
  while (size >= 3) {
    uint8_t flags = data[0];
    size_t len = (size_t)(data[1] << 8 | data[2]);
    data += 3, size -= 3;
    if (len > size)
      len = size;
    uint8_t *pkt = malloc(len ? len : 1); /* exact size: ASan sees reads past it */
    memcpy(pkt, data, len);
    dc_rtp r;
    if (dc_rtp_parse(&r, pkt, len) == DC_OK)
      dc_mixer_push(mixer, slots[flags & 3], &r, (flags & 4) ? (int)(flags >> 3) : -1, now);
    free(pkt);
    data += len, size -= len;
    if (flags & 0x80) {
      dc_mixer_tick(mixer, now);
      for (int i = 0; i < 4; i++)
        (void)dc_mixer_packet_for(mixer, slots[i]);
    }
    now += 7000;
  }
  dc_mixer_tick(mixer, now);
  for (int i = 0; i < 4; i++)
    dc_mixer_remove(mixer, slots[i]);
  return 0;
}
