# ml-service: one worker image per modality (docs/deployment.md).
#
#   docker build --network host --build-arg handler_name=webcam -t ml-service-webcam .
#   docker build --network host --target sandbox -t ml-service-sandbox .
#
# handler_name: webcam | screencast | audio | keystrokes | debug. A worker image holds the core
# packages (requirements.txt, pinned by constraints.txt), that handler's requirements.txt, what
# its install.sh installs, and that handler's code only. The `sandbox` target is the local
# XQueue + platform stand-in (python -m ml_service sandbox) used by the compose demo.
#
# Stages: core-venv (worker packages) -> worker-venv (+ the handler's) | sandbox-venv (+ Flask);
# runtime (user, state dir) -> sandbox | worker. The worker is last, so it is the default target.

FROM python:3.11-slim AS core-venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
COPY requirements.txt constraints.txt ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt -c constraints.txt

FROM core-venv AS sandbox-venv
COPY requirements-sandbox.txt ./
RUN /opt/venv/bin/pip install --no-cache-dir -r requirements-sandbox.txt -c constraints.txt

FROM core-venv AS worker-venv
ARG handler_name=debug
COPY handlers/${handler_name}/requirements.txt handler-requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r handler-requirements.txt -c constraints.txt

FROM python:3.11-slim AS runtime
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can check it and volumes can be chowned.
RUN groupadd --system --gid 10001 ml \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/ml --create-home \
        --shell /usr/sbin/nologin ml \
    && mkdir -p /var/lib/ml-service \
    && chown 10001:10001 /var/lib/ml-service
LABEL org.ml-service.project="ml-service"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    ML_STATE_DIR=/var/lib/ml-service
WORKDIR /app
STOPSIGNAL SIGTERM

FROM runtime AS sandbox
COPY --from=sandbox-venv /opt/venv /opt/venv
COPY ml_service ml_service
RUN python -m compileall -q ml_service
LABEL org.opencontainers.image.title="ml-service-sandbox" \
      org.opencontainers.image.description="Local XQueue server and proctoring-platform stand-in"
VOLUME ["/var/lib/ml-service"]
USER 10001:10001
ENTRYPOINT ["python", "-m", "ml_service"]
CMD ["sandbox", "serve", "--state-dir", "/var/lib/ml-service/sandbox"]

FROM runtime AS worker
ARG handler_name=debug
COPY --from=worker-venv /opt/venv /opt/venv
COPY ml_service ml_service
COPY handlers/__init__.py handlers/__init__.py
COPY handlers/${handler_name} handlers/${handler_name}
# install.sh as root, from its folder with the code in place: it installs system packages (and
# no-deps wheels into the venv named by ML_PYTHON), and some import their handler to check it.
# Package lists and pip's cache are removed afterwards.
RUN ML_PYTHON=/opt/venv/bin/python bash handlers/${handler_name}/install.sh \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /root/.cache \
    && python -m compileall -q ml_service handlers
ENV ML_ANALYZER=handlers.${handler_name}.${handler_name}.process \
    ML_METRICS_PORT=9400
LABEL org.opencontainers.image.title="ml-service-${handler_name}" \
      org.opencontainers.image.description="ml-service worker with the ${handler_name} handler"
VOLUME ["/var/lib/ml-service"]
USER 10001:10001
# /healthz of the metrics server (ml_service/core/metrics.py): 200 while the loop polls or a job runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "ml_service.core.metrics", "--check"]
ENTRYPOINT ["python", "-m", "ml_service"]
CMD ["run"]
