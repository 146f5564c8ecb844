"""``docflow``: the command line for any docflow deployment, through its public HTTP API."""
