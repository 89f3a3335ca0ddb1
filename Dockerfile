# Sluice: the server with the editor (default), or any flow headless:
#   docker build -t sluice .
#   docker run -p 8080:8080 -v sluice-data:/app/data sluice
#   docker run -v $PWD:/flows sluice run /flows/my-flow.yaml --state /app/data/state.db
# Not built on the development machines (no Docker engine there): see README, "What does not work yet".
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
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
VOLUME ["/app/data"]
ENTRYPOINT ["node", "bin/sluice.js"]
CMD ["serve"]
