/* credit.h — stdin flow control, the agent's side (docs/protocol/agent.md, "Flow
 * control"). The host sends each stdin stream (the container's, each exec'd process's)
 * only within the credit the agent has granted it: PROTO_STDIN_WINDOW bytes to begin
 * with, and back again each byte once it has left the agent's buffer, written to the
 * process or dropped because nothing reads it any more. So a process that does not
 * read its stdin holds at most one window here, and the port, which carries every
 * other stream and every control message, is always read. */
#ifndef RUNX_CREDIT_H
#define RUNX_CREDIT_H

#include <stddef.h>
#include <stdint.h>

#include "relay.h"

/* Grant back at least this much at once, so credit does not cost a message per pipe
 * write; all of it as soon as the buffer is empty, so a host waiting on its last
 * window is never left waiting. */
#define CREDIT_STEP (PROTO_STDIN_WINDOW / 4)

/* n bytes of b's stream have left the agent (written or dropped): owed to the host. */
void credit_owe(struct relay_buf *b, size_t n);
/* Sends `credit` for b's stream (exec number, 0 for the container's stdin) when it is
 * due. 0, or -1 with errno from the port. */
int credit_send_due(int port, uint32_t exec, struct relay_buf *b);

#endif
