# syntax=docker/dockerfile:1
# Tally sidecar image. Build:  docker build -t tally:0.1.0 .
# Stage 1 builds and tests with the same wrapper command as CI (.ci/run), on a JDK image.
FROM eclipse-temurin:25-jdk AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -ntp verify \
 && cp server/target/tally-server-*-all.jar /tmp/tally-server-all.jar

# Stage 2: the JRE, the jar, the shipped plugins; non-root.
FROM eclipse-temurin:25-jre
ENV TALLY_HOME=/opt/tally \
    TALLY_SOCKET=/run/tally/tally.sock
RUN groupadd --system --gid 10001 tally \
 && useradd --system --uid 10001 --gid tally --home-dir /opt/tally --shell /usr/sbin/nologin tally \
 && mkdir -p /opt/tally/plugins /run/tally \
 && chown tally:tally /run/tally \
 && chmod 0770 /run/tally
COPY --from=build /tmp/tally-server-all.jar /opt/tally/tally-server-all.jar
# plugins/ beside the jar is the default plugin directory (mount another over it to replace).
COPY --from=build /src/plugins/target/dist/ /opt/tally/plugins/
COPY deploy/docker/tally-entrypoint.sh /opt/tally/bin/tally
ENV PATH=/opt/tally/bin:$PATH
USER 10001:10001
WORKDIR /opt/tally
VOLUME ["/run/tally"]
# 50051: gRPC over TCP when asked for (--listen); 9464: Prometheus /metrics when asked for.
EXPOSE 50051 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["tally", "health", "--target", "unix:/run/tally/tally.sock"]
ENTRYPOINT ["tally"]
CMD ["serve", "--listen", "unix:/run/tally/tally.sock"]
