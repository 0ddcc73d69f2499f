/* libFuzzer target: bridge/silence_filter's program, run by the kernel on a loopback socket,
 * against a plain reading of what it must drop (tests/lib/silence_check.h): a point's packets
 * of any shape. The first byte picks which of the three payload-type/id settings the socket
 * has; the rest is the datagram. A difference, or a harness that stops working, aborts. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/lib/silence_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
  int opus_pt, red_pt, level_id;
} settings[] = {{111, 63, 1}, {111, -1, 1}, {109, 96, 14}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static silence_check checks[3];
  static bool opened;
  if (!opened) {
    for (int i = 0; i < 3; i++)
      if (!silence_check_open(&checks[i], settings[i].opus_pt, settings[i].red_pt, settings[i].level_id))
        abort();
    opened = true;
  }
  if (size < 1 || size > 1500)
    return 0;
  int s = data[0] % 3;
  int dropped = silence_check_kernel_drops(&checks[s], data + 1, size - 1);
  if (dropped < 0 ||
      dropped != silence_check_expected_drop(data + 1, size - 1, settings[s].opus_pt, settings[s].red_pt,
                                             settings[s].level_id)) {
    fprintf(stderr, "the kernel %s the packet\n", dropped < 0 ? "lost" : dropped ? "dropped" : "kept");
    abort();
  }
  return 0;
}
