/* libFuzzer target: what a bridge sends a native endpoint: one signaling text frame, or the
 * device API's answer (both parsers see every input). A roster_changes is also applied to a
 * small roster, as the endpoint does: the result stays in order, without duplicates, within
 * the limit. */
#include <stdlib.h>
#include <string.h>

#include "signaling/protocol.h"

static const char base_roster[] =
    "{\"v\":1,\"type\":\"roster\",\"participants\":["
    "{\"participant\":2,\"name\":\"a\",\"point\":\"b\",\"role\":\"host\",\"muted\":false},"
    "{\"participant\":5,\"name\":\"c\",\"point\":\"d\",\"role\":\"participant\",\"muted\":true}]}";

static void apply_to_a_roster(dc_server_msg *changes) {
  dc_server_msg roster;
  char *why = NULL;
  if (!dc_protocol_parse_server(base_roster, sizeof base_roster - 1, &roster, &why))
    abort();
  if (dc_protocol_apply_roster_changes(&roster, changes, &why)) {
    if (roster.n_roster > DC_PROTOCOL_MAX_ROSTER)
      abort();
    for (size_t i = 1; i < roster.n_roster; i++)
      if (roster.roster[i - 1].participant >= roster.roster[i].participant)
        abort();
  } else {
    if (!why)
      abort();
    g_free(why);
    dc_server_msg_clear(changes);
  }
  dc_server_msg_clear(&roster);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1); /* exact size: no NUL, reads past it trip ASan */
  memcpy(text, data, size);
  dc_server_msg m;
  char *why = NULL;
  if (dc_protocol_parse_server(text, size, &m, &why)) {
    if (m.n_slots > DC_PROTOCOL_MAX_SLOTS || m.n_roster > DC_PROTOCOL_MAX_ROSTER)
      abort();
    if (m.type == DC_SMSG_ROSTER_CHANGES)
      apply_to_a_roster(&m);
    dc_server_msg_clear(&m);
  } else if (!why) {
    abort(); /* every refusal says why */
  }
  g_free(why);
  why = NULL;
  dc_device_status st; /* the device API's answer, the endpoint's other input from a bridge */
  if (dc_protocol_parse_device_status(text, size, &st, &why))
    dc_device_status_clear(&st);
  else if (!why)
    abort();
  g_free(why);
  free(text);
  return 0;
}
