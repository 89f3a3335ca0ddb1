# Sluice: the server with the editor (default), or any flow headless:
#   docker build -t sluice .
#   docker run -p 8080:8080 -v sluice-data:/app/data sluice
#   docker run -v $PWD:/flows sluice run /flows/my-flow.yaml --state /app/data/state.db
# Built, run and checked by .ci/docker-image in CI (with podman there): non-root, health check, SIGTERM.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# native modules compile against the image's own headers: no download from nodejs.org
ENV npm_config_nodedir=/usr/local
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 isolated-vm
COPY . .
RUN npm run build && npm run build:editor && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# in a container the published port is the boundary: listen on every interface of the container (the
# loopback default would be unreachable). Set SLUICE_ADMIN_PASSWORD (or open the setup link in the log)
# and put TLS in front (README, Security).
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/examples ./examples
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# node's own fetch: the slim image has no curl
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
VOLUME ["/app/data"]
# the flag as in bin/sluice.js's first line
ENTRYPOINT ["node", "--max-semi-space-size=4", "bin/sluice.js"]
CMD ["serve"]
