# A long-running service (worker, notifier, devstack) as a slim image. Build from the root:
#   docker build -f docker/service.Dockerfile --build-arg PACKAGE=docflow-worker \
#     --build-arg COMMAND=docflow-worker -t docflow/worker .
# (`make build` does this for each service; compose.yaml names the same arguments.)
ARG PYTHON_IMAGE=python:3.12-slim

# Build stage: a virtualenv with the member and exactly its locked dependencies (wheels only).
FROM ${PYTHON_IMAGE} AS build
ARG PACKAGE
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY . .
RUN uv venv --python /usr/local/bin/python3.12 /app \
 && scripts/install-service "${PACKAGE}" --python /app/bin/python

# Final stage: the virtualenv only; no uv, no build tools; a non-root user.
FROM ${PYTHON_IMAGE}
ARG COMMAND
RUN useradd --system --uid 10001 --no-create-home docflow
COPY --from=build /app /app
ENV PATH=/app/bin:$PATH PYTHONUNBUFFERED=1 DOCFLOW_COMMAND=${COMMAND}
USER docflow
# The service's program by default; compose or your host may give another command.
CMD ["/bin/sh", "-c", "exec $DOCFLOW_COMMAND"]
