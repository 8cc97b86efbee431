/* credit.c — owns granting stdin credit back to the host (see credit.h). */
#include "credit.h"

#include "frame.h"

void credit_owe(struct relay_buf *b, size_t n)
{
	b->owed += n;
}

int credit_send_due(int port, uint32_t exec, struct relay_buf *b)
{
	if (b->owed == 0 || (b->owed < CREDIT_STEP && relay_buf_pending(b) > 0))
		return 0;
	struct ctl_out o;
	ctl_begin(&o, MSG_CREDIT);
	if (exec)
		ctl_addu(&o, KEY_EXEC, exec);
	ctl_addu(&o, KEY_BYTES, b->owed);
	if (ctl_send(port, &o) < 0)
		return -1;
	b->owed = 0;
	return 0;
}
