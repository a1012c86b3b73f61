/*
 * opc-webhook: inbound HTTP (GitHub and Plane webhooks, /healthz,
 * /metrics) onto the bus.
 */
#include "webhook.h"

int
main(int argc, char **argv)
{
	return (svc_main(&webhook_def, argc, argv));
}
