"""What docflow's test suites share: real processes on free loopback ports (the Resonate dev
server, the whole local stack), protocol helpers, a webhook receiver, an LLM stand-in, chaos.

It is a pytest plugin (``docflow_testing.fixtures``, registered as an entry point), so every
member's tests get its fixtures without importing another member's tests."""
