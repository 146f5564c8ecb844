"""docflow's local stack: the Resonate dev server, the API gateway, the SQS poller, the launcher."""

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
