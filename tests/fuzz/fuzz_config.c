/* libFuzzer target: bridge/options — any bytes as the config file, then the check of every
 * setting. Either a clear error or settings; never a crash, a leak or an unchecked value. */
#include <stdint.h>

#include "bridge/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dc_options o = {0};
  GError *err = NULL;
  if (dc_options_read_config(&o, (const char *)data, size, "fuzz", &err) && dc_options_check(&o, &err)) {
    /* what a checked setting promises */
    if (o.talkers < 0 || o.talkers > 8 || o.port < 0 || o.port > 65535 || o.media_port_min > o.media_port_max ||
        (o.stun && !o.stun_host) || (o.turn && (!o.turn_user || !o.turn_host || !o.turn_port)))
      __builtin_trap();
  } else if (!err || !err->message[0]) {
    __builtin_trap(); /* a refusal always says why */
  }
  g_clear_error(&err);
  dc_options_clear(&o);
  return 0;
}
