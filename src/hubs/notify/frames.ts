// The EventSource frames of seed 000, with the real ids the original never sent:
//   id: 12
//   data: {"id":"12","payload":"hi","read":false}
// Built by hand because this is the hot path: the payload is encoded once per notify call and JSON
// never contains a raw line break, so no data line needs splitting.

export function notificationFrame(id: number, payloadJson: string): string {
  return `id: ${id}\ndata: {"id":"${id}","payload":${payloadJson},"read":false}\n\n`;
}

/** Seed 000 sent one "ping" event when a user had nothing waiting; clients may wait for a first event. */
export const pingFrame = 'data: {"id":"","payload":"ping","read":false}\n\n';
