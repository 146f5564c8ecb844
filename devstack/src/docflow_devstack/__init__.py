"""docflow's local stack: the Resonate dev server, the API gateway, the SQS poller, the launcher."""
