/* device.h — unattended mode: a meeting-room box joins its point's meetings by itself.
 *
 * Asks the bridge's device API (GET /api/device/meeting, "Authorization: Device <key>",
 * signaling/PROTOCOL.md) which meeting its point may join now; joins it with the join link
 * the answer carries (a session, session.h, that never gives up on a lost link); when the
 * meeting ends goes back to asking. A bridge that is down is asked again at most 1.2 s
 * apart, so after a power cut, a lost link or a bridge restart the box is back in its meeting
 * within a few seconds of the bridge answering. It ends only when asked to, for a device key
 * the bridge does not know (DC_EXIT_REFUSED) or a certificate it does not trust.
 */
#ifndef DC_ENDPOINT_DEVICE_H
#define DC_ENDPOINT_DEVICE_H

#include "endpoint/session.h"

typedef struct {
  char *bridge_url; /* https://BRIDGE:8443 */
  char *device_key;
  dc_session_config session; /* everything but the link, which each meeting brings */
  unsigned poll_s;           /* between questions while no meeting is open */
} dc_device_config;

typedef struct dc_device dc_device;

dc_device *dc_device_new(const dc_device_config *cfg, void (*on_end)(int code, void *user), void *user);
void dc_device_start(dc_device *d);
/* Leaves the meeting it is in, if any, and ends with DC_EXIT_OK. */
void dc_device_stop(dc_device *d);
void dc_device_free(dc_device *d);

#endif
