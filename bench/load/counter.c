// The receiving side of the fan-out and connect-storm loads, in C with epoll.
//
// A Node client (ws, node:http, socket.io-client, or even a raw net.Socket) costs about as much CPU per
// received message as the server under test spends sending it, so with the load generator pinned to
// one core it saturated before the servers did and every fan-out round was inconclusive. This program
// opens the connections, does the handshakes, and then only walks WebSocket frame headers or counts
// SSE `data:` fields in 64 KB reads. The Node load script drives it over stdin/stdout:
//
//   stdin:  one line per connection, then "go":
//             ws <path> [<text frame to send after the upgrade>]   (presence sends its HELLO)
//             sse <path>
//             sio <path>                                           (engine.io v4 over WebSocket)
//   stdout: "ready <opened> <failed> <microseconds>" once every connection is usable or has failed
//           (a WebSocket with a text to send is usable at the first frame it gets back, which must
//           contain "ok":true), then "count <n>" whenever the number of counted messages changed,
//           at most every millisecond. Ends at stdin EOF.
//
// Counted: WebSocket text frames (for sio only "42" event packets; for "ws" with a HELLO, not the
// reply), SSE `data:` fields. Built by bench/load/counter.ts with the system's cc.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { WS, SSE, SIO };
enum state { CONNECTING, HEAD, OPEN, DEAD };

struct conn {
  int fd;
  enum kind kind;
  enum state state;
  char *path;
  char *hello;          // text frame to send after the upgrade (ws only)
  int awaiting_reply;   // hello sent, first frame not seen yet
  int usable;           // counted in `opened`
  char head[1024];      // the HTTP answer while it is incomplete
  int head_len;
  unsigned char partial[16]; // an incomplete frame header (+ first two payload bytes)
  int partial_len;
  uint64_t skip;        // payload bytes of the current frame still to skip
  char tail[4];         // SSE: the last bytes of the previous read
  int tail_len;
};

static struct conn *conns;
static int nconns, cap;
static int port, opened, failed, pending_handshakes;
static long long counted, reported = -1;
static int epfd;

static long long now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void send_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) { struct pollfd pf = {fd, POLLOUT, 0}; poll(&pf, 1, 100); continue; }
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

// A client frame must be masked; a zero mask leaves the payload as it is.
static void send_text(int fd, const char *text, int opcode) {
  size_t len = strlen(text);
  unsigned char h[8];
  int hl = 0;
  h[hl++] = 0x80 | opcode;
  if (len < 126) h[hl++] = 0x80 | len;
  else { h[hl++] = 0x80 | 126; h[hl++] = len >> 8; h[hl++] = len & 0xff; }
  memset(h + hl, 0, 4);
  hl += 4;
  char *frame = malloc(hl + len);
  memcpy(frame, h, hl);
  memcpy(frame + hl, text, len);
  send_all(fd, frame, hl + len);
  free(frame);
}

static void mark_dead(struct conn *c) {
  if (!c->usable) { failed++; pending_handshakes--; }
  c->state = DEAD;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
}

static void usable(struct conn *c) {
  c->awaiting_reply = 0;
  c->usable = 1;
  opened++;
  pending_handshakes--;
}

static int next_addr;
static void start(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // pick the source port at connect time, not in bind(): bind's search for a free port is slow
  setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  // spread over 127.0.0.2-9 so tens of thousands of connections never run out of source ports
  struct sockaddr_in local = {.sin_family = AF_INET};
  local.sin_addr.s_addr = htonl(0x7f000002 + (next_addr++ % 8));
  bind(c->fd, (struct sockaddr *)&local, sizeof local);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  to.sin_addr.s_addr = htonl(0x7f000001);
  connect(c->fd, (struct sockaddr *)&to, sizeof to);
  c->state = CONNECTING;
  pending_handshakes++;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void on_writable(struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return mark_dead(c);
  char req[2048];
  int n = c->kind == SSE
    ? snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n", c->path, port)
    : snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", c->path, port);
  send_all(c->fd, req, n);
  c->state = HEAD;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void count_sse(struct conn *c, const char *buf, ssize_t n) {
  // a `data:` split across two reads is found in the 4 kept bytes + the new ones
  char joined[8];
  int jl = 0;
  for (int i = 0; i < c->tail_len; i++) joined[jl++] = c->tail[i];
  for (int i = 0; i < n && jl < 8; i++) joined[jl++] = buf[i];
  for (int i = 0; i + 5 <= jl; i++)
    if (memcmp(joined + i, "data:", 5) == 0 && i < c->tail_len) counted++;
  const char *p = buf, *end = buf + n;
  while ((p = memmem(p, end - p, "data:", 5)) != NULL) { counted++; p += 5; }
  c->tail_len = n >= 4 ? 4 : (int)n;
  memcpy(c->tail, end - c->tail_len, c->tail_len);
}

// A frame's header is complete: its opcode and the first two payload bytes (fewer if it is shorter).
static void on_frame(struct conn *c, int opcode, const unsigned char *payload, uint64_t len) {
  if (opcode == 0x9) { send_text(c->fd, "", 0xa); return; }
  if (opcode != 0x1) return;
  if (c->kind != SIO) { counted++; return; }
  if (len >= 2 && payload[0] == '4' && payload[1] == '2') counted++;                // an event
  else if (len == 1 && payload[0] == '2') send_text(c->fd, "3", 0x1);                // ping → pong
  else if (len >= 1 && payload[0] == '0') send_text(c->fd, "40", 0x1);               // open → join "/"
  else if (len >= 2 && payload[0] == '4' && payload[1] == '0' && !c->usable) usable(c); // joined
}

// Is the header in `partial` complete? Then its length and payload length.
static int header_complete(struct conn *c, int *hl, uint64_t *len) {
  if (c->partial_len < 2) return 0;
  *len = c->partial[1] & 0x7f;
  *hl = *len == 126 ? 4 : *len == 127 ? 10 : 2;
  if (c->partial_len < *hl) return 0;
  if (*len == 126) *len = ((uint64_t)c->partial[2] << 8) | c->partial[3];
  else if (*len == 127) { *len = 0; for (int i = 2; i < 10; i++) *len = (*len << 8) | c->partial[i]; }
  return 1;
}

static void walk_frames(struct conn *c, const unsigned char *buf, ssize_t n) {
  ssize_t at = 0;
  while (at < n && c->state == OPEN) {
    if (c->skip > 0) {
      uint64_t take = (uint64_t)(n - at) < c->skip ? (uint64_t)(n - at) : c->skip;
      c->skip -= take;
      at += take;
      continue;
    }
    c->partial[c->partial_len++] = buf[at++];
    int hl;
    uint64_t len;
    if (!header_complete(c, &hl, &len)) continue;
    uint64_t have = (uint64_t)c->partial_len - hl;
    if (have < (len < 2 ? len : 2)) continue;
    int opcode = c->partial[0] & 0x0f;
    c->partial_len = 0;
    c->skip = len - have;
    if (c->awaiting_reply && opcode == 0x1) {
      // the HELLO reply (small, in this read) must say ok
      uint64_t avail = (uint64_t)(n - at) < c->skip ? (uint64_t)(n - at) : c->skip;
      if (memmem(buf + at, avail, "\"ok\":true", 9) != NULL) usable(c);
      else return mark_dead(c);
      continue;
    }
    on_frame(c, opcode, c->partial + hl, len);
  }
}

static void on_readable(struct conn *c) {
  static unsigned char buf[65536];
  for (;;) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n == 0) return mark_dead(c);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) mark_dead(c);
      return;
    }
    ssize_t at = 0;
    if (c->state == HEAD) {
      int take = n < (ssize_t)(sizeof c->head - 1 - c->head_len) ? (int)n : (int)(sizeof c->head - 1 - c->head_len);
      memcpy(c->head + c->head_len, buf, take);
      c->head_len += take;
      c->head[c->head_len] = 0;
      char *end = strstr(c->head, "\r\n\r\n");
      if (!end) { if (c->head_len >= (int)sizeof c->head - 1) mark_dead(c); if (n < (ssize_t)sizeof buf) return; continue; }
      int head_bytes = (int)(end + 4 - c->head);
      at = head_bytes - (c->head_len - take);
      const char *ok = c->kind == SSE ? "HTTP/1.1 200" : "HTTP/1.1 101";
      if (strncmp(c->head, ok, 12) != 0) return mark_dead(c);
      c->state = OPEN;
      if (c->kind == WS && c->hello) { send_text(c->fd, c->hello, 0x1); c->awaiting_reply = 1; }
      else if (c->kind != SIO) usable(c);
    }
    if (c->state != OPEN) return;
    if (c->kind == SSE) count_sse(c, (const char *)buf + at, n - at);
    else walk_frames(c, buf + at, n - at);
    if (n < (ssize_t)sizeof buf) return;
  }
}

static void add_line(char *line) {
  if (nconns == cap) { cap = cap ? cap * 2 : 1024; conns = realloc(conns, cap * sizeof *conns); }
  struct conn *c = &conns[nconns];
  memset(c, 0, sizeof *c);
  char *kind = strtok(line, " \n");
  char *path = strtok(NULL, " \n");
  char *hello = strtok(NULL, "\n");
  if (!kind || !path) return;
  c->kind = strcmp(kind, "sse") == 0 ? SSE : strcmp(kind, "sio") == 0 ? SIO : WS;
  c->path = strdup(path);
  c->hello = hello ? strdup(hello) : NULL;
  nconns++;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: counter <port> < connections\n"); return 2; }
  port = atoi(argv[1]);
  static char line[8192];
  while (fgets(line, sizeof line, stdin) && strncmp(line, "go", 2) != 0) add_line(line);
  epfd = epoll_create1(0);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event in = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &in);
  long long t0 = now_us(), last_report = 0;
  int next = 0, ready_sent = 0;
  struct epoll_event events[512];
  for (;;) {
    // at most 256 handshakes at a time, like a storm of eager clients
    while (next < nconns && pending_handshakes < 256) start(&conns[next++]);
    if (!ready_sent && next == nconns && pending_handshakes == 0) {
      printf("ready %d %d %lld\n", opened, failed, now_us() - t0);
      fflush(stdout);
      ready_sent = 1;
    }
    int n = epoll_wait(epfd, events, 512, 1);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        char drain[256];
        ssize_t r = read(0, drain, sizeof drain);
        if (r == 0) return 0;
        continue;
      }
      if (c->state == DEAD) continue;
      if (c->state == CONNECTING && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) on_writable(c);
      else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    long long t = now_us();
    if (ready_sent && counted != reported && t - last_report >= 1000) {
      printf("count %lld\n", counted);
      fflush(stdout);
      reported = counted;
      last_report = t;
    }
  }
}
