# A Lambda function's code on the AWS Lambda Python 3.12 base image. Build from the root:
#   docker build -f docker/lambda.Dockerfile --build-arg PACKAGE=docflow-trigger \
#     -t docflow/trigger-lambda .
# The same code and locked dependencies as build/<service>.zip (scripts/install-service).
# The handler is the function's setting, not the image's, as with a zip: compose's `command`
# or the template's ImageConfig.Command, e.g. docflow_trigger.handlers.http.lambda_handler
# (one trigger image serves both its HTTP and its SQS function).
ARG LAMBDA_IMAGE=public.ecr.aws/lambda/python:3.12

FROM ${LAMBDA_IMAGE} AS build
ARG PACKAGE
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY . .
# What the base image's runtime already has is left out, as from the zip (docflow-package).
RUN RUNTIME_PROVIDED="boto3 botocore s3transfer jmespath python-dateutil six urllib3" \
    scripts/install-service "${PACKAGE}" --target /opt/function

FROM ${LAMBDA_IMAGE}
COPY --from=build /opt/function ${LAMBDA_TASK_ROOT}
