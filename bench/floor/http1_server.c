/*
 * The floor of an OTLP/HTTP request on this machine: a minimal HTTP/1.1 server (one thread, epoll) that reads
 * each request up to its Content-Length and answers an empty 200. No parsing, no work: what it costs per request
 * is the kernel's TCP path and the wake-ups. It prints the line bench/prometheus_e2e.py waits for and ignores its
 * arguments, so it stands in for otelsink there (docs/performance.md, "Code laid out by use"):
 *
 *     cc -O2 -o /tmp/http1-floor bench/floor/http1_server.c
 *     python3 bench/prometheus_e2e.py --bin /tmp/http1-floor --transport http --exporter nop
 *
 * Loopback only; stopped by the bench's SIGTERM. A request larger than 1 MiB closes its connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_FDS = 1024, BUFFER = 1 << 20 };

struct connection {
    size_t length;
    char bytes[BUFFER + 1];
};

static struct connection *connections[MAX_FDS];

static void drop(int fd) {
    close(fd);
    free(connections[fd]);
    connections[fd] = NULL;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 64) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        perror("listen");
        return 1;
    }
    printf("address=127.0.0.1:%d server=floor protocol=http\n", ntohs(address.sin_port));
    fflush(stdout);
    int poller = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
    struct epoll_event ready[64];
    for (;;) {
        int n = epoll_wait(poller, ready, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
                if (client < 0) continue;
                if (client >= MAX_FDS || !(connections[client] = calloc(1, sizeof(struct connection)))) {
                    close(client);
                    continue;
                }
                struct epoll_event e = {.events = EPOLLIN, .data.fd = client};
                epoll_ctl(poller, EPOLL_CTL_ADD, client, &e);
                continue;
            }
            struct connection *c = connections[fd];
            ssize_t got = read(fd, c->bytes + c->length, BUFFER - c->length);
            if (got <= 0) {
                drop(fd);
                continue;
            }
            c->length += (size_t)got;
            for (;;) {
                c->bytes[c->length] = 0;
                char *end = strstr(c->bytes, "\r\n\r\n");
                if (!end) break;
                char *field = strcasestr(c->bytes, "content-length:");
                size_t body = field && field < end ? strtoul(field + 15, NULL, 10) : 0;
                size_t total = (size_t)(end + 4 - c->bytes) + body;
                if (total > BUFFER) {
                    drop(fd);
                    break;
                }
                if (c->length < total) break;
                if (write(fd, answer, sizeof answer - 1) < 0) {
                    drop(fd);
                    break;
                }
                memmove(c->bytes, c->bytes + total, c->length - total);
                c->length -= total;
            }
        }
    }
}
