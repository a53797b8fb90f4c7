# luna-events: the simulated services and the fallback shipper, for compose.yaml.
FROM python:3.12-slim
WORKDIR /opt/luna-events
COPY pyproject.toml README.md ./
COPY luna_events ./luna_events
# the simulated services need the lean install; the shipper needs [ship]
RUN pip install --no-cache-dir '.[ship]' && useradd --system --uid 10001 luna \
    && mkdir -p /var/log/luna /var/lib/luna-events \
    && chown luna: /var/log/luna /var/lib/luna-events
# (a new named volume takes the owner of the directory it is mounted on)
USER luna
ENTRYPOINT ["luna-events"]
CMD ["--help"]
